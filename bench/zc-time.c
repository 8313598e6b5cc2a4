/*
 * zc-time: runs a command and writes "WALL USER SYS MAXRSS_KIB STATUS
 * INPOS" to a file: seconds with nanosecond wall clock, the command's
 * own rusage, its exit status (128+N for signal N), and with -i FILE the
 * offset its standard input (FILE, opened here) reached, else -1.
 * SIGTERM, SIGINT and SIGHUP are passed on to the command.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static volatile sig_atomic_t child;

static void
usage(void)
{
	fprintf(stderr, "usage: zc-time [-i infile] -o outfile command "
	    "[arg ...]\n");
	exit(1);
}

static void
pass_on(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	sigset_t block, old;
	struct rusage ru;
	const char *in = NULL, *out = NULL;
	uint64_t t0, t1;
	long long pos = -1;
	pid_t pid;
	FILE *fp;
	int ch, status, code, fd = -1;

	die_with_parent();
	while ((ch = getopt(argc, argv, "+i:o:")) != -1) {
		switch (ch) {
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || out == NULL)
		usage();
	if ((fp = fopen(out, "w")) == NULL)
		err(1, "%s", out);
	if (in != NULL && (fd = open(in, O_RDONLY)) == -1)
		err(1, "%s", in);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pass_on;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);

	t0 = mono_ns();
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd != -1 && dup2(fd, STDIN_FILENO) == -1)
			err(127, "dup2");
		execvp(argv[0], argv);
		err(127, "%s", argv[0]);
	}
	child = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	while (wait4(pid, &status, 0, &ru) == -1)
		if (errno != EINTR)
			err(1, "wait4");
	t1 = mono_ns();
	if (fd != -1)
		pos = lseek(fd, 0, SEEK_CUR);

	code = WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
	fprintf(fp, "%.9f %ld.%06ld %ld.%06ld %ld %d %lld\n",
	    (t1 - t0) / 1e9,
	    (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
	    (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
	    ru.ru_maxrss, code, pos);
	if (fclose(fp) == EOF)
		err(1, "%s", out);
	return code;
}
