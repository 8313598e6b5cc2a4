/*
 * ztee: copy standard input to standard output and to every OUTPUT,
 * through one zero-copy flow. Compatible with GNU coreutils tee. With
 * -k the flow is live: listen outputs serve subscribers that join and
 * leave while the input lasts, as lossy sinks with a lag bound.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
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

#define MAX_LAG_DEFAULT (4 << 20)	/* --max-lag: 4 MiB */

struct output {
	const char *name;	/* for messages */
	int fd;
	int owned;		/* close at the end */
	int sink;		/* index in the flow, -1 when not in it */
	int pipe;		/* a pipe or FIFO: watched for a lost reader */
	int gone;		/* dropped from the flow */
	int broken;		/* its reader went away while idle */
	/* -k: a listen output, fd its listening socket. */
	int listen;
	struct zc_server *sv;
	struct zc_sockfile sf;	/* unix-listen: the socket file */
	unsigned nsubs;		/* subscribers so far, for their numbers */
	struct ztee *z;
};

/* A subscriber of a listen output: a lossy sink of the live flow. */
struct sub {
	struct output *o;
	unsigned id;		/* 1, 2, ... per listen output */
	int fd;			/* the flow closes it (ZC_SINK_CLOSE) */
	int sink;
};

/* What a sink index of the flow is: a fixed output or a subscriber. */
struct sinkref {
	int out;		/* index in out[], or -1 */
	struct sub *sub;	/* or a subscriber, or NULL (free) */
};

struct ztee {
	enum mode mode;
	struct output *out;
	int nout;
	struct sinkref *ref;	/* sink index -> what it is */
	int nref;
	int keep;		/* -k */
	int live;		/* -k with a listen output: a live flow */
	int max_subs;		/* -m; 0: no cap */
	uint64_t max_lag;	/* --max-lag */
	int verbose;		/* -v */
	int sigpipe_ign;	/* SIGPIPE was ignored when ztee started */
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
	OPT_MAX_LAG,
	OPT_OUTPUT_ERROR,
	OPT_HELP,
	OPT_VERSION
};

static const struct option longopts[] = {
	{ "append", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "ignore-interrupts", no_argument, NULL, 'i' },
	{ "keep-open", no_argument, NULL, 'k' },
	{ "max-lag", required_argument, NULL, OPT_MAX_LAG },
	{ "max-subscribers", required_argument, NULL, 'm' },
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
	printf("usage: %s [-aikPpv] [-L rate] [-m max] [--max-lag size] "
	    "[--no-splice]\n"
	    "            [--output-error[=MODE]] [OUTPUT ...]\n",
	    getprogname());
	fputs("Copy standard input to standard output and to every OUTPUT.\n"
	    "\n"
	    "  -a, --append             append to files, do not truncate them\n"
	    "  -i, --ignore-interrupts  ignore SIGINT\n"
	    "  -k, --keep-open          listen outputs serve subscribers that "
	    "join and leave\n"
	    "                           while the input lasts, each from the "
	    "moment it joins\n"
	    "  -L, --rate-limit=RATE    read at most RATE bytes a second "
	    "(suffixes k, M, G),\n"
	    "                           still by splice\n"
	    "  -m, --max-subscribers=MAX  with -k, at most MAX subscribers at "
	    "once per\n"
	    "                           listen output; more are closed at "
	    "once\n"
	    "      --max-lag=SIZE       with -k, cut off a subscriber more "
	    "than SIZE bytes\n"
	    "                           behind (suffixes as head -c; default "
	    "4M)\n"
	    "  -P, --progress           show a progress line on standard error "
	    "(pv's)\n"
	    "  -p                       same as --output-error=warn-nopipe\n"
	    "  -v, --stats              print bytes and methods per output at "
	    "the end;\n"
	    "                           with -k, subscribers' joins, leaves "
	    "and cut-offs\n"
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

/* A FIFO ztee opened is its own open file description: made
 * non-blocking, it is written whole and waited for through the loop,
 * where a blocking one would be written PIPE_BUF bytes at a time. */
static void
fifo_nonblock(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    (fl = fcntl(fd, F_GETFL)) != -1)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
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
		fifo_nonblock(fd);
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
	if (z->keep && (sp.kind == ZC_SPEC_TCP_LISTEN ||
	    sp.kind == ZC_SPEC_UNIX_LISTEN)) {
		/* -k: a listening socket; main starts its server. */
		if ((fd = zc_listen_sockfile(&sp, 0, SOMAXCONN,
		    &o->sf)) < 0) {
			output_failed(z, text, fd);
			return -1;
		}
		o->fd = fd;
		o->owned = 1;
		o->listen = 1;
		o->z = z;
		z->live = 1;
		return 0;
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
	} else {
		fd = ep.fd;
		fifo_nonblock(fd);
	}
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

/* Writes the address of fd's peer into buf as "ADDR:PORT" or
 * "[V6ADDR]:PORT"; returns buf, or NULL when the peer has no address
 * to show (a unix socket that did not bind). */
static const char *
peer_text(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return NULL;
	if (ss.ss_family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&ss)->sun_path;

		if (sl <= offsetof(struct sockaddr_un, sun_path) ||
		    path[0] == '\0')
			return NULL;
		snprintf(buf, len, "%s", esc(path));
		return buf;
	}
	/* A v4 client of a dual-stack listener shows as v4. */
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = s6->sin6_port;
		memcpy(&sin.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		memcpy(&ss, &sin, sizeof(sin));
		sl = sizeof(sin);
	}
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return NULL;
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, serv);
	return buf;
}

/* The entry of sink index s, the table grown to hold it; NULL when out
 * of memory. */
static struct sinkref *
sinkref_at(struct ztee *z, int s)
{
	struct sinkref *nr;
	int n;

	if (s >= z->nref) {
		n = z->nref * 2 > s + 1 ? z->nref * 2 : s + 16;
		if ((nr = reallocarray(z->ref, n, sizeof(*nr))) == NULL)
			return NULL;
		for (; z->nref < n; z->nref++) {
			nr[z->nref].out = -1;
			nr[z->nref].sub = NULL;
		}
		z->ref = nr;
	}
	return &z->ref[s];
}

/* A subscriber joins: a lossy sink of the live flow from now on. */
static void
on_accept(struct zc_server *sv, int fd, void *arg)
{
	struct output *o = arg;
	struct ztee *z = o->z;
	struct zc_sink_opts so = { .flags = ZC_SINK_CLOSE,
	    .max_lag = z->max_lag };
	struct sinkref *ref;
	struct sub *sb;
	char peer[NI_MAXHOST + NI_MAXSERV + 8];
	const char *pt = z->verbose ? peer_text(fd, peer, sizeof(peer)) :
	    NULL;
	unsigned id = ++o->nsubs;
	int s;

	if ((sb = calloc(1, sizeof(*sb))) == NULL) {
		s = -ENOMEM;
		goto fail;
	}
	if ((s = zc_flow_add_sink_opts(z->flow, fd, &so)) < 0)
		goto fail;
	if ((ref = sinkref_at(z, s)) == NULL) {
		zc_flow_remove_sink(z->flow, s);	/* closes fd */
		free(sb);
		zc_server_done(sv);
		warnx("%s: subscriber %u: %s", shquote(o->name), id,
		    strerror(ENOMEM));
		return;
	}
	sb->o = o;
	sb->id = id;
	sb->fd = fd;
	sb->sink = s;
	ref->out = -1;
	ref->sub = sb;
	if (z->verbose)
		warnx("%s: subscriber %u joined%s%s", shquote(o->name), id,
		    pt != NULL ? " from " : "", pt != NULL ? pt : "");
	return;
fail:
	free(sb);
	close(fd);
	zc_server_done(sv);
	warnx("%s: subscriber %u: %s", shquote(o->name), id, zc_strerror(s));
}

/* The server of a listen output tells: a connection over the -m cap
 * (closed at once), accepting paused and resumed, or failed for good. */
static void
on_event(struct zc_server *sv, enum zc_server_event ev, int error, int fd,
    void *arg)
{
	struct output *o = arg;
	struct ztee *z = o->z;
	char peer[NI_MAXHOST + NI_MAXSERV + 8];
	const char *pt;

	switch (ev) {
	case ZC_SERVER_EV_REFUSED:
		if (!z->verbose)
			break;
		pt = peer_text(fd, peer, sizeof(peer));
		warnx("%s: connection%s%s refused: %d subscribers already",
		    shquote(o->name), pt != NULL ? " from " : "",
		    pt != NULL ? pt : "", z->max_subs);
		break;
	case ZC_SERVER_EV_PAUSED:
		warnx("%s: accept: %s (waiting)", shquote(o->name),
		    zc_strerror(error));
		break;
	case ZC_SERVER_EV_RESUMED:
		if (z->verbose)
			warnx("%s: accepting again", shquote(o->name));
		break;
	case ZC_SERVER_EV_FAILED:
		warnx("%s: accept: %s", shquote(o->name), zc_strerror(error));
		z->status = 1;
		break;
	}
}

/* A subscriber left (error: a write failed) or was cut off (-ZC_ELAG):
 * told with -v, never an error; its sink is removed, its fd closed. */
static void
sub_gone(struct ztee *z, struct sub *sb, int error)
{
	struct output *o = sb->o;
	struct zc_stats st, fs;
	const char *name = shquote(o->name);

	zc_flow_sink_stats(z->flow, sb->sink, &st);
	if (!z->verbose)
		;
	else if (error == -ZC_ELAG) {
		/* Within the bound, it was the end-of-input drain. */
		zc_flow_stats(z->flow, &fs);
		if (fs.bytes - st.bytes > z->max_lag)
			warnx("%s: subscriber %u cut off after %ju bytes: "
			    "more than %ju bytes behind", name, sb->id,
			    (uintmax_t)st.bytes, (uintmax_t)z->max_lag);
		else
			warnx("%s: subscriber %u cut off after %ju bytes: "
			    "stalled at end of input", name, sb->id,
			    (uintmax_t)st.bytes);
	} else if (error == -EPIPE || error == -ECONNRESET)
		warnx("%s: subscriber %u left after %ju bytes", name, sb->id,
		    (uintmax_t)st.bytes);
	else
		warnx("%s: subscriber %u left after %ju bytes: %s", name,
		    sb->id, (uintmax_t)st.bytes, zc_strerror(error));
	z->ref[sb->sink].sub = NULL;
	zc_flow_remove_sink(z->flow, sb->sink);
	if (o->sv != NULL)
		zc_server_done(o->sv);
	free(sb);
}

/* End of input: a subscriber still there has every byte. Told with -v;
 * its write side is shut and what it sent is read, so that closing
 * sends no reset that could cost it the tail. */
static void
sub_end(struct ztee *z, struct sub *sb)
{
	struct zc_stats st;

	zc_flow_sink_stats(z->flow, sb->sink, &st);
	if (z->verbose)
		warnx("%s: subscriber %u ended after %ju bytes",
		    shquote(sb->o->name), sb->id, (uintmax_t)st.bytes);
	sock_end(sb->fd);
}

static int
on_sink_error(struct zc_flow *f, int sink, int error, void *arg)
{
	struct ztee *z = arg;
	struct output *o;

	if (z->ref[sink].sub != NULL) {
		sub_gone(z, z->ref[sink].sub, error);
		return 0;
	}
	o = &z->out[z->ref[sink].out];
	o->gone = 1;
	if (error == -EPIPE) {
		switch (z->mode) {
		case MODE_SIGPIPE:
			/* What write(2) would have done; a no-op when
			 * SIGPIPE is ignored, and then GNU tee is silent.
			 * A live flow ignores it for its subscribers. */
			if (z->live && !z->sigpipe_ign)
				signal(SIGPIPE, SIG_DFL);
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
	int i;

	z->done = 1;
	z->done_err = error;
	/* No subscriber joins after the end. */
	for (i = 0; i < z->nout; i++)
		if (z->out[i].sv != NULL) {
			zc_server_free(z->out[i].sv);
			z->out[i].sv = NULL;
		}
}

/* Stops the loop when every output left is a pipe whose reader is gone
 * (the nopipe modes, like GNU tee's early exit). */
static void
check_pipes(struct ztee *z)
{
	struct pollfd pfd;
	int i, live = 0;

	if (z->live)
		return;		/* subscribers may still come */
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
	struct zc_server_opts so;
	struct zc_stats st;
	struct sigaction sa;
	struct sinkref *ref;
	const char *errstr;
	double start;
	uint64_t rate = 0;
	int append = 0, stats = 0, nosplice = 0, lagset = 0, ch, i, n, r, s;
	int in_closed;

	stdio_guard();
	in_closed = stdio_closed(STDIN_FILENO);
	memset(&z, 0, sizeof(z));
	z.mode = MODE_SIGPIPE;
	z.max_lag = MAX_LAG_DEFAULT;
	while ((ch = getopt_long(argc, argv, "L:Paikm:pv", longopts,
	    NULL)) != -1) {
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
		case 'k':
			z.keep = 1;
			break;
		case 'm':
			z.max_subs = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL)
				errx(1, "invalid number of subscribers: '%s'",
				    esc(optarg));
			break;
		case OPT_MAX_LAG:
			z.max_lag = parse_size("max lag", optarg);
			if (z.max_lag == 0)
				errx(1, "invalid max lag: '%s'", esc(optarg));
			lagset = 1;
			break;
		case 'p':
			z.mode = MODE_WARN_NOPIPE;
			break;
		case 'v':
			stats = z.verbose = 1;
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
	if (z.max_subs > 0 && !z.keep)
		errx(1, "-m needs -k");
	if (lagset && !z.keep)
		errx(1, "--max-lag needs -k");

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
		z.sigpipe_ign = 1;
	if (z.mode != MODE_SIGPIPE && signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	z.pipe_check = (z.mode == MODE_WARN_NOPIPE ||
	    z.mode == MODE_EXIT_NOPIPE) && input_can_wait(STDIN_FILENO);

	z.out = calloc(argc + 1, sizeof(*z.out));
	if (z.out == NULL || sinkref_at(&z, argc) == NULL)
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
	/* A subscriber that leaves is no reason to die; a lossless pipe
	 * output without a reader still is (on_sink_error). */
	if (z.live && signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");

	memset(&fo, 0, sizeof(fo));
	fo.flags = nosplice ? ZC_FLOW_NO_SPLICE : 0;
	if (z.live)
		fo.flags |= ZC_FLOW_LIVE;
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

		if (o->listen)
			continue;
		if ((s = zc_flow_add_sink(z.flow, o->fd)) < 0) {
			output_failed(&z, o->name, s);
			continue;
		}
		if ((ref = sinkref_at(&z, s)) == NULL)
			err(1, NULL);
		o->sink = s;
		o->pipe = is_pipe(o->fd);
		ref->out = i;
		n++;
	}
	/* The listen outputs accept from now on. */
	memset(&so, 0, sizeof(so));
	so.flags = z.max_subs > 0 ? ZC_SERVER_REFUSE : 0;
	so.open_flags = ZC_OPEN_NONBLOCK;
	so.max_conns = z.max_subs;
	so.on_accept = on_accept;
	so.on_event = on_event;
	for (i = 0; i < z.nout; i++) {
		struct output *o = &z.out[i];

		if (!o->listen)
			continue;
		so.arg = o;
		if ((o->sv = zc_server_new(z.loop, o->fd, &so)) == NULL)
			output_failed(&z, o->name, -errno);
	}

	start = now_seconds();
	if (z.progress)
		progress_init(&z.prog, input_size(STDIN_FILENO));
	if (z.progress || z.pipe_check)
		zc_loop_set_tick(z.loop, PROGRESS_TICK_MS, on_tick, &z);
	r = n > 0 || z.live ? zc_loop_run(z.loop, -1) : 0;
	for (i = 0; i < z.nout; i++)
		if (z.out[i].sv != NULL) {
			zc_server_free(z.out[i].sv);
			z.out[i].sv = NULL;
		}
	/* Every subscriber still there got the whole rest of the stream. */
	for (i = 0; i < z.nref; i++)
		if (z.ref[i].sub != NULL && z.done && z.done_err == 0)
			sub_end(&z, z.ref[i].sub);
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
	for (i = 0; i < z.nref; i++)
		free(z.ref[i].sub);
	for (i = 1; i < z.nout; i++)
		if (z.out[i].listen) {
			zc_sockfile_unlink(&z.out[i].sf);
			close(z.out[i].fd);
			z.out[i].owned = 0;
		}
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
	free(z.ref);
	return z.status;
}
