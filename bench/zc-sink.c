/*
 * zc-sink: reads standard input (or one accepted connection with -l)
 * until end of file, splicing it into /dev/null when it can, and prints
 * "BYTES FIRST_NS END_NS" (CLOCK_MONOTONIC at the first byte and at the
 * end). -n checks the count, -V checks every byte against zc-source's
 * pattern (that one reads, so it is for correctness, not speed). -r
 * reads with read(2) instead of splicing, -c sets the bytes asked for a
 * call (default 128 KiB reads, 16 MiB splices) whatever the pipe holds,
 * and the input pipe is resized only with -p: together they make a
 * consumer that does not adapt to its pipe. With -l, -k COUNT first
 * accepts COUNT connections that it holds open unread (idle ones), then
 * creates the -R file and sinks the next connection. With -t it
 * connects to host:port (or unix:path) instead, as a subscriber of a
 * live stream does, and with -n stops once it has that many bytes.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define BIG (16 * 1024 * 1024)

static uint64_t first_ns;
static size_t chunk;
static uint64_t limit = UINT64_MAX;	/* -t -n: stop after this many */

static void
usage(void)
{
	fprintf(stderr, "usage: zc-sink [-rV] [-c chunk] [-k idle] "
	    "[-l host:port | -l unix:path] [-n bytes] [-P portfile]\n"
	    "               [-p pipesize] [-R readyfile] "
	    "[-t host:port | -t unix:path]\n");
	exit(1);
}

static void
got(ssize_t n)
{
	if (n > 0 && first_ns == 0)
		first_ns = mono_ns();
}

/* Bytes read with read(2) until end of file, checked against the
 * pattern when verify is set. */
static uint64_t
sink_read(int fd, int verify, uint64_t pos)
{
	unsigned char *buf, *pat = NULL;
	size_t len = chunk ? chunk : 128 * 1024;
	ssize_t r, i;

	if ((buf = malloc(len)) == NULL)
		err(1, "malloc");
	if (verify)
		pat = pattern_buf(len);

	for (;;) {
		if (limit - pos < len)
			len = limit - pos;
		if (len == 0)
			r = 0;
		else if ((r = read(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "read");
		}
		if (r == 0) {
			free(buf);
			free(pat);
			return pos;
		}
		got(r);
		if (verify && memcmp(buf, pat + pos % PATTERN_LEN, r) != 0) {
			for (i = 0; buf[i] == pat[(pos + i) % PATTERN_LEN]; i++)
				;
			errx(1, "wrong byte at offset %" PRIu64, pos + i);
		}
		pos += r;
	}
}

/* Bytes spliced from the pipe fd into null until end of file. */
static uint64_t
sink_pipe(int fd, int null)
{
	uint64_t pos = 0;
	ssize_t r;

	for (;;) {
		r = splice(fd, NULL, null, NULL, chunk ? chunk : BIG,
		    SPLICE_F_MOVE);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EINVAL && pos == 0)
				return sink_read(fd, 0, 0);
			err(1, "splice");
		}
		if (r == 0)
			return pos;
		got(r);
		pos += r;
	}
}

/* Bytes spliced from fd through a pipe of our own into null. */
static uint64_t
sink_splice(int fd, int null, size_t psz)
{
	uint64_t pos = 0;
	ssize_t r, w;
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		err(1, "pipe");
	pipe_size(p[1], psz ? psz : 1024 * 1024);
	for (;;) {
		size_t len = chunk ? chunk : BIG;

		if (limit - pos < len)
			len = limit - pos;
		if (len == 0)
			break;
		r = splice(fd, NULL, p[1], NULL, len,
		    SPLICE_F_MOVE | SPLICE_F_MORE);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EINVAL && pos == 0) {
				pos = sink_read(fd, 0, 0);
				break;
			}
			err(1, "splice");
		}
		if (r == 0)
			break;
		got(r);
		pos += r;
		while (r > 0) {
			w = splice(p[0], NULL, null, NULL, r, SPLICE_F_MOVE);
			if (w == -1 && errno != EINTR)
				err(1, "splice");
			if (w > 0)
				r -= w;
		}
	}
	close(p[0]);
	close(p[1]);
	return pos;
}

/* One connection accepted from lfd. */
static int
accept_fd(int lfd)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		if (errno != EINTR)
			err(1, "accept");
	return fd;
}

/* Listens on spec, publishes the port in portfile, accepts idle
 * connections to hold (creating readyfile after them), and returns the
 * next connection accepted. */
static int
accept_one(const char *spec, const char *portfile, int idle,
    const char *readyfile)
{
	char port[32];
	int lfd, fd, i;

	lfd = net_listen(spec);
	if (portfile != NULL) {
		snprintf(port, sizeof(port), "%d\n", net_port(lfd));
		publish_file(portfile, port);
	}
	for (i = 0; i < idle; i++)
		(void)accept_fd(lfd);
	if (readyfile != NULL)
		publish_file(readyfile, "");
	fd = accept_fd(lfd);
	close(lfd);
	return fd;
}

int
main(int argc, char *argv[])
{
	struct stat st;
	const char *listen_spec = NULL, *portfile = NULL, *readyfile = NULL;
	const char *target = NULL;
	const char *errstr;
	uint64_t want = 0, got_bytes;
	size_t psz = 0;
	int ch, fd = STDIN_FILENO, null, verify = 0, check = 0, rd = 0;
	int idle = 0;

	die_with_parent();
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "P:R:Vc:k:l:n:p:rt:")) != -1) {
		switch (ch) {
		case 'P':
			portfile = optarg;
			break;
		case 'R':
			readyfile = optarg;
			break;
		case 'V':
			verify = 1;
			break;
		case 'c':
			chunk = size_arg("-c", optarg);
			if (chunk == 0 || chunk > BIG)
				errx(1, "-c: chunk out of range");
			break;
		case 'k':
			idle = strtonum(optarg, 0, 4096, &errstr);
			if (errstr != NULL)
				errx(1, "-k: count %s: %s", errstr, optarg);
			break;
		case 'l':
			listen_spec = optarg;
			break;
		case 'n':
			want = size_arg("-n", optarg);
			check = 1;
			break;
		case 'p':
			psz = size_arg("-p", optarg);
			break;
		case 'r':
			rd = 1;
			break;
		case 't':
			target = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || ((idle || readyfile) && listen_spec == NULL) ||
	    (target != NULL && listen_spec != NULL))
		usage();
	if (target != NULL && check)
		limit = want;

	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		err(1, "/dev/null");
	if (listen_spec != NULL)
		fd = accept_one(listen_spec, portfile, idle, readyfile);
	if (target != NULL)
		fd = net_connect(target, 10000);
	if (fstat(fd, &st) == -1)
		err(1, "fstat");
	if (S_ISFIFO(st.st_mode) && psz)
		pipe_size(fd, psz);

	if (verify || rd)
		got_bytes = sink_read(fd, verify, 0);
	else if (S_ISFIFO(st.st_mode))
		got_bytes = sink_pipe(fd, null);
	else if (S_ISSOCK(st.st_mode))
		got_bytes = sink_splice(fd, null, psz);
	else
		got_bytes = sink_read(fd, 0, 0);

	printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", got_bytes,
	    first_ns, mono_ns());
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	if (check && got_bytes != want)
		errx(1, "got %" PRIu64 " bytes, expected %" PRIu64,
		    got_bytes, want);
	return 0;
}
