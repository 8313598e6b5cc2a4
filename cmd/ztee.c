/*
 * ztee: copy standard input to standard output and to every OUTPUT,
 * through one zero-copy flow. Compatible with GNU coreutils tee.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "zerocopy.h"

enum mode {
	MODE_SIGPIPE,		/* no option: EPIPE kills, others warn */
	MODE_WARN,
	MODE_WARN_NOPIPE,
	MODE_EXIT,
	MODE_EXIT_NOPIPE
};

static const char *const mode_names[] = {
	"warn", "warn-nopipe", "exit", "exit-nopipe"
};

struct output {
	const char *name;	/* for messages */
	int fd;
	int owned;		/* close at the end */
	int sink;		/* index in the flow, -1 when not in it */
	int pipe;		/* a pipe or FIFO: watched for a lost reader */
	int gone;		/* dropped from the flow */
	int broken;		/* its reader went away while idle */
};

struct ztee {
	enum mode mode;
	struct output *out;
	int nout;
	int *sink_out;		/* sink index -> output index */
	struct zc_loop *loop;
	struct zc_flow *flow;
	int done;
	int done_err;
	int aborted;		/* an output error ended the flow (exit modes) */
	int early;		/* stopped because every output was a lost pipe */
	int pipe_check;
	int progress;
	struct progress prog;
	int status;
};

enum {
	OPT_NO_SPLICE = 256,
	OPT_OUTPUT_ERROR,
	OPT_HELP,
	OPT_VERSION
};

static const struct option longopts[] = {
	{ "append", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "ignore-interrupts", no_argument, NULL, 'i' },
	{ "no-splice", no_argument, NULL, OPT_NO_SPLICE },
	{ "output-error", optional_argument, NULL, OPT_OUTPUT_ERROR },
	{ "progress", no_argument, NULL, 'P' },
	{ "rate-limit", required_argument, NULL, 'L' },
	{ "stats", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* As GNU tee: the option error getopt printed, then only this line. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n",
	    getprogname());
	exit(1);
}

static void __attribute__((noreturn))
help(void)
{
	printf("usage: %s [-aiPpv] [-L rate] [--no-splice] "
	    "[--output-error[=MODE]] [OUTPUT ...]\n", getprogname());
	fputs("Copy standard input to standard output and to every OUTPUT.\n"
	    "\n"
	    "  -a, --append             append to files, do not truncate them\n"
	    "  -i, --ignore-interrupts  ignore SIGINT\n"
	    "  -L, --rate-limit=RATE    read at most RATE bytes a second "
	    "(suffixes k, M, G),\n"
	    "                           still by splice\n"
	    "  -P, --progress           show a progress line on standard error "
	    "(pv's)\n"
	    "  -p                       same as --output-error=warn-nopipe\n"
	    "  -v, --stats              print bytes and methods per output at "
	    "the end\n"
	    "      --no-splice          copy with read and write only\n"
	    "      --output-error[=MODE]  what to do when an output fails\n"
	    "      --help               show this help and exit\n"
	    "      --version            show the version and exit\n"
	    "\n"
	    "MODE (default warn-nopipe):\n"
	    "  warn         report an error on any output, go on with the "
	    "others\n"
	    "  warn-nopipe  the same, but drop a pipe without a reader "
	    "silently\n"
	    "  exit         report an error on any output and exit\n"
	    "  exit-nopipe  the same, but drop a pipe without a reader "
	    "silently\n"
	    "With a nopipe MODE, exit as soon as every output is a pipe "
	    "without a reader.\n"
	    "Without -p or --output-error, a pipe without a reader ends "
	    "the program\n"
	    "by SIGPIPE, and errors on other outputs are reported.\n"
	    "\n"
	    "OUTPUT is a file name, or fd:N, file:PATH, tcp:HOST:PORT,\n"
	    "IPV4:PORT, [IPV6]:PORT, localhost:PORT, unix:PATH,\n"
	    "listen:[HOST:]PORT, tcp-listen:[HOST:]PORT or unix-listen:PATH\n"
	    "(see ztee(1) and zerocopy-endpoints(7)).\n", stdout);
	stdout_exit(0);
}

/* Returns arg in single quotes with C escapes (\\, \', \t, \ooo...), as
 * GNU tee quotes an option argument in the C locale; a static buffer. */
static const char *
argquote(const char *arg)
{
	static char buf[4 * 256 + 8];
	static const char named[] = "\a\b\t\n\v\f\r", names[] = "abtnvfr";
	const unsigned char *s = (const unsigned char *)arg;
	const char *nm;
	size_t o = 0;

	buf[o++] = '\'';
	for (; *s != '\0' && o < sizeof(buf) - 6; s++) {
		if (*s == '\\' || *s == '\'') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s >= 0x20 && *s < 0x7f)
			buf[o++] = *s;
		else if ((nm = strchr(named, *s)) != NULL) {
			buf[o++] = '\\';
			buf[o++] = names[nm - named];
		} else {
			buf[o++] = '\\';
			buf[o++] = '0' + (*s >> 6);
			buf[o++] = '0' + ((*s >> 3) & 7);
			buf[o++] = '0' + (*s & 7);
		}
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* Returns the mode named by arg (exact, or an unambiguous prefix);
 * exits with a message otherwise. */
static enum mode
parse_mode(const char *arg)
{
	size_t i, len = strlen(arg);
	int found = -1, many = 0;

	for (i = 0; i < 4; i++) {
		if (strcmp(arg, mode_names[i]) == 0)
			return MODE_WARN + i;
		/* "" is a prefix of all four: ambiguous, as GNU says. */
		if (strncmp(arg, mode_names[i], len) == 0) {
			if (found >= 0)
				many = 1;
			found = i;
		}
	}
	if (found >= 0 && !many)
		return MODE_WARN + found;
	warnx("%s argument %s for '--output-error'",
	    many ? "ambiguous" : "invalid", argquote(arg));
	fputs("Valid arguments are:\n", stderr);
	for (i = 0; i < 4; i++)
		fprintf(stderr, "  - '%s'\n", mode_names[i]);
	fprintf(stderr, "Try '%s --help' for more information.\n",
	    getprogname());
	exit(1);
}

/* Reports an output that could not be opened or failed; exits at once
 * in the exit modes. */
static void
output_failed(struct ztee *z, const char *name, int error)
{
	warnx("%s: %s", shquote(name), zc_strerror(error));
	z->status = 1;
	if (z->mode == MODE_EXIT || z->mode == MODE_EXIT_NOPIPE)
		exit(1);
}

/* Opens OUTPUT text into o; returns 0, or -1 after reporting. */
static int
open_output(struct ztee *z, struct output *o, const char *text, int append)
{
	struct zc_spec sp;
	struct zc_endpoint ep;
	const char *why = "malformed";
	int fd, r;

	o->name = text;
	o->sink = -1;
	r = zc_spec_parse_flags(&sp, text, ZC_SPEC_FILES_FIRST, &why);
	if (r == -ENAMETOOLONG || (r == 0 && sp.kind == ZC_SPEC_PATH)) {
		/* The name as given: open(2) tells what is wrong with it. */
		fd = open(text, O_WRONLY | O_CREAT | O_CLOEXEC |
		    (append ? O_APPEND : O_TRUNC), 0666);
		if (fd < 0) {
			output_failed(z, text, -errno);
			return -1;
		}
		o->fd = fd;
		o->owned = 1;
		return 0;
	}
	if (r < 0) {
		warnx("spec %s: %s", shquote(text), why);
		z->status = 1;
		if (z->mode == MODE_EXIT || z->mode == MODE_EXIT_NOPIPE)
			exit(1);
		return -1;
	}
	r = zc_endpoint_open(&ep, &sp,
	    ZC_OPEN_WRITE | (append ? ZC_OPEN_APPEND : 0), -1);
	if (r < 0) {
		output_failed(z, text, r);
		return -1;
	}
	if (!ep.owned) {
		/* fd:N: a descriptor of its own, so no fd is in a flow twice. */
		fd = fcntl(ep.fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		if (fd < 0) {
			output_failed(z, text, -errno);
			return -1;
		}
	} else
		fd = ep.fd;
	o->fd = fd;
	o->owned = 1;
	return 0;
}

/* Returns 1 if fd is a pipe or FIFO. */
static int
is_pipe(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int
on_sink_error(struct zc_flow *f, int sink, int error, void *arg)
{
	struct ztee *z = arg;
	struct output *o = &z->out[z->sink_out[sink]];

	o->gone = 1;
	if (error == -EPIPE) {
		switch (z->mode) {
		case MODE_SIGPIPE:
			/* What write(2) would have done; a no-op when
			 * SIGPIPE is ignored, and then GNU tee is silent. */
			raise(SIGPIPE);
			return 0;
		case MODE_WARN_NOPIPE:
		case MODE_EXIT_NOPIPE:
			return 0;
		default:
			break;
		}
	}
	warnx("%s: %s", shquote(o->name), zc_strerror(error));
	z->status = 1;
	if (z->mode == MODE_EXIT || (z->mode == MODE_EXIT_NOPIPE &&
	    error != -EPIPE)) {
		z->aborted = 1;
		return error < 0 ? error : -EIO;
	}
	return 0;
}

static void
on_done(struct zc_flow *f, int error, void *arg)
{
	struct ztee *z = arg;

	z->done = 1;
	z->done_err = error;
}

/* Stops the loop when every output left is a pipe whose reader is gone
 * (the nopipe modes, like GNU tee's early exit). */
static void
check_pipes(struct ztee *z)
{
	struct pollfd pfd;
	int i, live = 0;

	for (i = 0; i < z->nout; i++) {
		struct output *o = &z->out[i];

		if (o->sink < 0 || o->gone)
			continue;
		if (!o->pipe)
			return;
		if (!o->broken) {
			pfd.fd = o->fd;
			pfd.events = 0;
			if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR))
				o->broken = 1;
		}
		if (!o->broken)
			live++;
	}
	if (live == 0) {
		z->early = 1;
		zc_loop_stop(z->loop);
	}
}

static void
on_tick(void *arg)
{
	struct ztee *z = arg;
	struct zc_stats st;

	if (z->progress) {
		zc_flow_stats(z->flow, &st);
		progress_update(&z->prog, st.bytes, 0);
	}
	if (z->pipe_check)
		check_pipes(z);
}

/* Returns the bytes left to read on fd when it is a regular file, else 0. */
static uint64_t
input_size(int fd)
{
	struct stat st;
	off_t off;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	off = lseek(fd, 0, SEEK_CUR);
	if (off < 0 || off >= st.st_size)
		return 0;
	return st.st_size - off;
}

/* Returns 1 if reading fd may block (GNU tee's test for its early exit). */
static int
input_can_wait(int fd)
{
	struct stat st;

	return !(fstat(fd, &st) == 0 &&
	    (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)));
}

int
main(int argc, char *argv[])
{
	struct ztee z;
	struct zc_flow_opts fo;
	struct zc_stats st;
	double start;
	uint64_t rate = 0;
	int append = 0, stats = 0, nosplice = 0, ch, i, n, r, s, in_closed;

	stdio_guard();
	in_closed = stdio_closed(STDIN_FILENO);
	memset(&z, 0, sizeof(z));
	z.mode = MODE_SIGPIPE;
	while ((ch = getopt_long(argc, argv, "L:Paipv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'L':
			rate = parse_rate(optarg);
			break;
		case 'P':
			z.progress = 1;
			break;
		case 'a':
			append = 1;
			break;
		case 'i':
			if (signal(SIGINT, SIG_IGN) == SIG_ERR)
				err(1, "signal");
			break;
		case 'p':
			z.mode = MODE_WARN_NOPIPE;
			break;
		case 'v':
			stats = 1;
			break;
		case OPT_NO_SPLICE:
			nosplice = 1;
			break;
		case OPT_OUTPUT_ERROR:
			z.mode = optarg != NULL ? parse_mode(optarg) :
			    MODE_WARN_NOPIPE;
			break;
		case OPT_HELP:
			help();
		case OPT_VERSION:
			printf("%s (zerocopy) %s\n", getprogname(),
			    zc_version());
			stdout_exit(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (z.mode != MODE_SIGPIPE && signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	z.pipe_check = (z.mode == MODE_WARN_NOPIPE ||
	    z.mode == MODE_EXIT_NOPIPE) && input_can_wait(STDIN_FILENO);

	z.out = calloc(argc + 1, sizeof(*z.out));
	z.sink_out = calloc(argc + 1, sizeof(*z.sink_out));
	if (z.out == NULL || z.sink_out == NULL)
		err(1, NULL);
	z.out[0].name = "standard output";
	z.out[0].fd = STDOUT_FILENO;
	z.out[0].sink = -1;
	z.nout = 1;
	/* The loop's two descriptors first: then every output that opens
	 * is written, and one past the descriptor limit is reported like
	 * any output that cannot be opened. */
	if ((z.loop = zc_loop_new()) == NULL)
		err(1, "zc_loop_new");
	for (i = 0; i < argc; i++)
		if (open_output(&z, &z.out[z.nout], argv[i], append) == 0)
			z.nout++;

	memset(&fo, 0, sizeof(fo));
	fo.flags = nosplice ? ZC_FLOW_NO_SPLICE : 0;
	fo.limit = ZC_NO_LIMIT;
	if (rate > 0) {
		fo.flags |= ZC_FLOW_RATE;
		fo.rate = rate;
	}
	fo.on_done = on_done;
	fo.on_sink_error = on_sink_error;
	fo.arg = &z;
	if ((z.flow = zc_flow_new(z.loop, STDIN_FILENO, &fo)) == NULL)
		err(1, "zc_flow_new");
	for (i = n = 0; i < z.nout; i++) {
		struct output *o = &z.out[i];

		if ((s = zc_flow_add_sink(z.flow, o->fd)) < 0) {
			output_failed(&z, o->name, s);
			continue;
		}
		o->sink = s;
		o->pipe = is_pipe(o->fd);
		z.sink_out[s] = i;
		n++;
	}

	start = now_seconds();
	if (z.progress)
		progress_init(&z.prog, input_size(STDIN_FILENO));
	if (z.progress || z.pipe_check)
		zc_loop_set_tick(z.loop, PROGRESS_TICK_MS, on_tick, &z);
	r = n > 0 ? zc_loop_run(z.loop, -1) : 0;
	/* -EPIPE is also what the flow ends with when no output is left;
	 * the source's err_side tells a read error apart. */
	zc_flow_stats(z.flow, &st);
	if (r < 0 && !(r == -ECANCELED && z.early)) {
		warnx("%s", zc_strerror(r));
		z.status = 1;
	} else if (z.done && z.done_err < 0 && !z.aborted &&
	    (z.done_err != -EPIPE || st.err_side == ZC_SIDE_SRC)) {
		warnx("read error: %s", zc_strerror(z.done_err));
		z.status = 1;
	}

	if (z.progress) {
		zc_flow_stats(z.flow, &st);
		progress_update(&z.prog, st.bytes, 1);
	}
	if (stats) {
		double secs = now_seconds() - start;

		for (i = 0; i < z.nout; i++)
			if (z.out[i].sink >= 0) {
				zc_flow_sink_stats(z.flow, z.out[i].sink, &st);
				print_stats(z.out[i].name, &st, secs);
			}
	}
	zc_flow_free(z.flow);
	zc_loop_free(z.loop);
	if (z.aborted)
		exit(1);

	for (i = 1; i < z.nout; i++)
		if (z.out[i].owned && close(z.out[i].fd) < 0 &&
		    !z.out[i].gone) {
			warnx("%s: %s", shquote(z.out[i].name),
			    strerror(errno));
			z.status = 1;
		}
	if (close(STDIN_FILENO) < 0 || in_closed) {
		warnx("standard input: %s", strerror(in_closed ? EBADF : errno));
		z.status = 1;
	}
	if (close(STDOUT_FILENO) < 0 && errno != EBADF && !z.out[0].gone) {
		warnx("%s: %s", shquote(z.out[0].name), strerror(errno));
		z.status = 1;
	}
	free(z.out);
	free(z.sink_out);
	return z.status;
}
