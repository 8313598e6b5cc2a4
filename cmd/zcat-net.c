/*
 * zcat-net: move bytes between standard input/output and a socket, or
 * between two endpoints, both ways at once, on libzerocopy's flow engine;
 * serve standard input live to many clients (--broadcast); tap a relay's
 * directions (--tap, --tap-back). Options, messages and wiring: accepting
 * and connecting are the library's server layer.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define TICK_MS 100
#define ACCEPT_SAY_MS 1000	/* at most one accept failure line */
#define LABEL_MAX (ZC_SPEC_PATH_MAX + 128)
#define MAX_LAG_DEFAULT ((uint64_t)4 << 20)	/* --max-lag, as ztee's */

struct conn;

/* One side of a connection: where its bytes come from and go to. */
struct end {
	int rfd;
	int wfd;
	int sock;		/* wfd is a socket: half-close with shutdown */
	int stdio;		/* rfd 0 and wfd 1 */
	int owned;		/* close rfd (== wfd) at the end */
	char label[LABEL_MAX];
};

/* One direction: e[i] to e[1 - i]. */
struct dir {
	struct conn *c;
	int i;
	struct zc_flow *flow;
	int running;
	int sink_err;
	struct zc_stats st;	/* the sink's: bytes delivered */
	struct zc_stats in;	/* the source's */
	int lane;		/* -P: its lane of the progress line, or -1 */
};

struct conn {
	LIST_ENTRY(conn) entry;
	struct end e[2];
	struct dir d[2];
	struct zc_connect *cn;		/* connecting to the target, or NULL */
	int served;			/* given by the server: done with it */
	int64_t quit_at;		/* ms; 0: not set */
	int64_t active_at;
	uint64_t seen;
	int64_t start;
	int established;
	int failed;
	int peer_gone;			/* a write found the peer closed */
};

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);

/* --broadcast: a client, one sink of the live flow from standard input. */
struct client {
	LIST_ENTRY(client) entry;
	int fd;
	int sink;
	int watched;		/* what it sends is read and dropped */
	uint64_t joined_at;	/* bytes the flow had read when it came */
	char label[LABEL_MAX];
};

static LIST_HEAD(, client) clients = LIST_HEAD_INITIALIZER(clients);
static struct zc_flow *bflow;	/* standard input to every client */
static int blane = -1;		/* -P: its lane */
static int bflag;		/* --broadcast */
static uint64_t max_lag;	/* --max-lag; 0: not given */

/* --tap (0, A to B) and --tap-back (1, B to A): opened once. */
static struct {
	const char *text;
	int fd;
	int owned;
	int gone;		/* failed: told once, not used again */
} tap[2] = { { NULL, -1, 0, 0 }, { NULL, -1, 0, 0 } };

static struct zc_loop *volatile loop;
static int ticking;
static int stdio_fl[2] = { -1, -1 };	/* flags to restore on 0 and 1 */

static int dflag, kflag, nflag, vflag, zflag, nosplice, splicetcp, copyout;
static int qsecs = -1, wsecs;
static int maxconns;
static unsigned oflags;		/* ZC_OPEN_IPV4, IPV6, NUMERIC, APPEND */

/* --send-only, --recv-only, --one-way: which direction is left out. */
enum { BOTH_WAYS, SEND_ONLY, RECV_ONLY, A_TO_B };
static int oneway;
static int dir_off[2];		/* d[i] does not run */
static int devnull = -1;	/* where a socket's bytes of an off d[i] go */

/* -s and -p: where connections are made from. */
static struct zc_spec srcaddr;
static int have_src;
static int rval;
static uint64_t rate;		/* -L: bytes a second per direction; 0: none */
static int Pflag;
static struct progress prog;
static uint64_t prog_done[PROGRESS_LANES];	/* of connections gone */

static struct zc_spec spec[2];
static const char *spec_text[2];
static int nspecs;		/* 1: stdio and spec[0]; 2: relay */

static int lfd = -1;		/* listening socket */
static struct zc_server *server;	/* accepting on lfd */
static struct zc_sockfile sockfile;	/* the unix-listen socket file */
static int stdin_eof;

/* Where new connections connect to (the non-listening spec). */
static struct {
	int idx;		/* index into spec[], -1: stdio */
	int async;		/* 1: zc_connect_start, from the loop */
	int is_unix;
} target;

static volatile sig_atomic_t stopped;

static void usage(void) __attribute__((noreturn));
static void help(void) __attribute__((noreturn));
static void start_tick(void);
static void end_stdio(struct end *);

#define OPT_ONE_WAY 0x100
#define OPT_RECV_ONLY 0x101
#define OPT_SEND_ONLY 0x102
#define OPT_BROADCAST 0x103
#define OPT_MAX_LAG 0x104
#define OPT_TAP 0x105
#define OPT_TAP_BACK 0x106

static const struct option longopts[] = {
	{ "broadcast", no_argument, NULL, OPT_BROADCAST },
	{ "copy-out", no_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ "max-lag", required_argument, NULL, OPT_MAX_LAG },
	{ "no-splice", no_argument, NULL, 'S' },
	{ "one-way", no_argument, NULL, OPT_ONE_WAY },
	{ "progress", no_argument, NULL, 'P' },
	{ "rate-limit", required_argument, NULL, 'L' },
	{ "recv-only", no_argument, NULL, OPT_RECV_ONLY },
	{ "send-only", no_argument, NULL, OPT_SEND_ONLY },
	{ "splice-tcp", no_argument, NULL, 'T' },
	{ "tap", required_argument, NULL, OPT_TAP },
	{ "tap-back", required_argument, NULL, OPT_TAP_BACK },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const char synopsis[] =
    "usage: %1$s [-46adkNnPUvz] [-L rate] [-m max] [-p port] [-q secs] [-s addr]\n"
    "       [-w secs] [--send-only | --recv-only] [--no-splice | --splice-tcp\n"
    "       | --copy-out]"
    " host port [port ...]\n"
    "       %1$s -l [options] [host] port\n"
    "       %1$s -l -p port [options] [host]\n"
    "       %1$s [-l] [options] [--tap spec] [--tap-back spec] spec [spec_b]\n"
    "       %1$s -k -l --broadcast [-m max] [--max-lag size] [options] [host]"
    " port\n";

static void
usage(void)
{
	fprintf(stderr, synopsis, getprogname());
	fprintf(stderr, "Try '%s --help' for more information.\n",
	    getprogname());
	exit(1);
}

static void
help(void)
{
	printf(synopsis, getprogname());
	printf("\n"
"Move bytes between standard input/output and a socket, or between two\n"
"endpoints (a relay), both ways at once, with splice(2).\n"
"\n"
"  -4              IPv4 only\n"
"  -6              IPv6 only\n"
"  -a              append to a file spec instead of truncating it\n"
"  -d              do not read standard input\n"
"  -k              keep listening after a connection ends\n"
"  -L, --rate-limit rate\n"
"                  read each direction at most rate bytes a second\n"
"                  (suffixes k, M, G), still by splice\n"
"  -l              listen for a connection instead of connecting\n"
"  -m max          at most max connections at once (with -k)\n"
"  -N              accepted for nc compatibility (half-close is the default)\n"
"  -n              numeric addresses only, no DNS\n"
"  -P, --progress  one progress line on standard error for both directions\n"
"                  (send and recv, or a->b and b->a in a relay)\n"
"  -p port         connect from this local port; with -l, the port to listen on\n"
"  -q secs         quit secs seconds after standard input (or A to B) ends;\n"
"                  0 waits for the peer, as nc does\n"
"  -s addr         connect from this local address\n"
"  -U              host is the path of a unix socket\n"
"  -u              refused: UDP is not supported\n"
"  -v              connection lines and a byte summary on standard error\n"
"  -w secs         connect timeout, and end a connection idle this long\n"
"  -z              report whether the ports are open (0: one is), move no data\n"
"      --send-only standard input to the socket only (relay: A to B)\n"
"      --recv-only the socket to standard output only (relay: B to A)\n"
"      --one-way   A to B only: --send-only for a client, --recv-only for\n"
"                  a listener\n"
"      --no-splice read/write only\n"
"      --splice-tcp splice into sockets (by default the fastest of this,\n"
"                  --copy-out and read/write is measured as bytes go)\n"
"      --copy-out  splice in, read out of the pipe and write(2) to sockets\n"
"      --broadcast with -k -l: standard input to every client connected,\n"
"                  each from when it joins; what clients send is dropped\n"
"      --max-lag size\n"
"                  a broadcast client (default 4M) or a tap more than size\n"
"                  bytes behind is cut off (suffixes as for -L)\n"
"      --tap spec  a relay's A to B bytes also go to spec (lossless unless\n"
"                  --max-lag); with -k one connection at a time\n"
"      --tap-back spec\n"
"                  the same for B to A\n"
"  -h, --help      this help\n"
"      --version   the version\n"
"\n"
"A spec is HOST:PORT, [V6ADDR]:PORT, unix:PATH, listen:[HOST:]PORT,\n"
"unix-listen:PATH, -, fd:N, file:PATH or PATH (see zerocopy-endpoints(7)).\n"
"A port may be a TCP service name (http); -z takes ports, LOW-HIGH ranges\n"
"and lists of them.\n");
	stdout_exit(0);
}

static void
on_signal(int sig)
{
	stopped = 1;
	if (loop != NULL)
		zc_loop_stop(loop);
}

/* Frees the loop so that a late SIGINT or SIGTERM cannot reach it. */
static void
free_loop(void)
{
	struct zc_loop *l;
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	l = loop;
	loop = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
	zc_loop_free(l);
}

/* Text for a socket address: "1.2.3.4:80", "[::1]:80" or a path. */
static void
addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const void *)sa;

		/* The peer chose the path: escaped, and it may lack a NUL. */
		if (len > offsetof(struct sockaddr_un, sun_path) &&
		    sun->sun_path[0] != '\0')
			esc_buf(buf, size, sun->sun_path, strnlen(sun->sun_path,
			    len - offsetof(struct sockaddr_un, sun_path)));
		else
			snprintf(buf, size, "unix socket");
		return;
	}
	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, serv);
}

static void
peer_text(int fd, int local, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r;

	r = local ? getsockname(fd, (void *)&ss, &len) :
	    getpeername(fd, (void *)&ss, &len);
	if (r == -1)
		snprintf(buf, size, "?");
	else
		addr_text((void *)&ss, len, buf, size);
}

/* The TCP service name of port for -v lines, or "*" as nc writes when
 * there is none (always with -n). */
static const char *
service_of(const char *port)
{
	struct servent *se;

	if (nflag || (se = getservbyport(htons(atoi(port)), "tcp")) == NULL)
		return "*";
	return se->s_name;
}

/* The numeric address and port of fd's peer (local: its own). */
static int
numeric_addr(int fd, int local, char *host, size_t hsize, char *serv,
    size_t ssize)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r;

	r = local ? getsockname(fd, (void *)&ss, &len) :
	    getpeername(fd, (void *)&ss, &len);
	if (r == -1 || ss.ss_family == AF_UNIX)
		return -1;
	/* A v4 client of a dual-stack listener shows as nc shows it. */
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		struct sockaddr_in6 s6 = *(struct sockaddr_in6 *)&ss;
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		memset(s4, 0, sizeof(*s4));
		s4->sin_family = AF_INET;
		s4->sin_port = s6.sin6_port;
		memcpy(&s4->sin_addr, &s6.sin6_addr.s6_addr[12], 4);
		len = sizeof(*s4);
	}
	return getnameinfo((void *)&ss, len, host, hsize, serv, ssize,
	    NI_NUMERICHOST | NI_NUMERICSERV) == 0 ? 0 : -1;
}

/* nc's -v line for a TCP connect: "Connection to HOST PORT port
 * [tcp/SERVICE] succeeded!", with the address after a host name. */
static void
say_connected(const char *name, int fd)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (numeric_addr(fd, 0, host, sizeof(host), serv, sizeof(serv)) != 0)
		return;
	if (name[0] == '\0' || strcmp(name, host) == 0)
		fprintf(stderr, "Connection to %s %s port [tcp/%s] "
		    "succeeded!\n", host, serv, service_of(serv));
	else
		fprintf(stderr, "Connection to %s (%s) %s port [tcp/%s] "
		    "succeeded!\n", esc(name), host, serv, service_of(serv));
}

static int
is_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int
is_listen(const struct zc_spec *sp)
{
	return sp->kind == ZC_SPEC_TCP_LISTEN ||
	    sp->kind == ZC_SPEC_UNIX_LISTEN;
}

/* The port number of a TCP service name (http: "80"), or word itself
 * when it is a number or no service has that name. */
static const char *
port_word(const char *word)
{
	static char buf[4][8];
	static int n;
	struct servent *se;

	if (is_digits(word) || strpbrk(word, ":/[]") != NULL ||
	    (se = getservbyname(word, "tcp")) == NULL)
		return word;
	n = (n + 1) % 4;
	snprintf(buf[n], sizeof(buf[n]), "%d", ntohs(se->s_port));
	return buf[n];
}

/* Whether two operands are HOST PORT rather than two specs: a is a host
 * by the library's nc rule, and b a port number or service name. */
static int
host_port_pair(const char *a, const char *b)
{
	struct zc_spec sp;

	if (zc_spec_parse_flags(&sp, a, ZC_SPEC_HOST_FIRST, NULL) != -ENOENT)
		return 0;
	if (is_digits(b))
		return 1;
	return strpbrk(b, ":/[]") == NULL && getservbyname(b, "tcp") != NULL;
}

/* Parses text into sp, turned into a listening or unix spec as the
 * options say; exits with the spec message when it is malformed. */
static void
make_spec(struct zc_spec *sp, const char *text, int listen, int unixsock)
{
	const char *why = "malformed";
	char *buf = NULL;
	int r;

	if (unixsock && strncmp(text, "unix:", 5) != 0 &&
	    strncmp(text, "unix-listen:", 12) != 0) {
		if (asprintf(&buf, "unix:%s", text) == -1)
			err(1, NULL);
		if (zc_spec_parse(sp, buf, &why) != 0)
			errx(1, "spec '%s': %s", esc(text), why);
		free(buf);
	} else if (listen && strchr(text, '/') == NULL) {
		/* "PORT", "HOST:PORT", "[V6]:PORT" or a prefixed spec; a
		 * word that is none of them is a bad port, not a unix
		 * socket file (that takes -U, a '/' or unix-listen:). */
		if (asprintf(&buf, "listen:%s", text) == -1)
			err(1, NULL);
		r = zc_spec_parse(sp, buf, &why);
		free(buf);
		if (r != 0) {
			if (strchr(text, ':') == NULL)
				errx(1, "spec '%s': %s", esc(text), why);
			if (zc_spec_parse(sp, text, &why) != 0)
				errx(1, "spec '%s': %s", esc(text), why);
		}
	} else if (zc_spec_parse(sp, text, &why) != 0)
		errx(1, "spec '%s': %s", esc(text), why);
	if (!listen)
		return;
	switch (sp->kind) {
	case ZC_SPEC_TCP:
		sp->kind = ZC_SPEC_TCP_LISTEN;
		break;
	case ZC_SPEC_UNIX:
	case ZC_SPEC_PATH:
		sp->kind = ZC_SPEC_UNIX_LISTEN;
		break;
	case ZC_SPEC_TCP_LISTEN:
	case ZC_SPEC_UNIX_LISTEN:
		break;
	default:
		errx(1, "spec '%s': cannot listen on this", esc(text));
	}
}

static void
end_close(struct end *e)
{
	if (e->owned && e->rfd >= 0)
		close(e->rfd);
	e->rfd = e->wfd = -1;
	e->owned = 0;
}

/* Ends e's writing side after its last byte: shutdown for a socket,
 * close for standard output. Returns 0 or -errno. */
static int
end_finish(struct end *e, int keep_stdout)
{
	if (e->wfd < 0)
		return 0;
	if (e->sock) {
		if (shutdown(e->wfd, SHUT_WR) == -1 && errno != ENOTCONN)
			return -errno;
		return 0;
	}
	if (e->stdio && !keep_stdout) {
		int fd = e->wfd;

		e->wfd = -1;
		if (close(fd) == -1 && errno != EINTR)
			return -errno;
	}
	return 0;
}

static void
dir_stats(struct dir *d, struct zc_stats *st)
{
	if (d->flow != NULL) {
		zc_flow_sink_stats(d->flow, 0, &d->st);
		zc_flow_stats(d->flow, &d->in);
	}
	*st = d->st;
}

/* The methods that moved st's bytes, joined by sep. */
static void
method_list(const struct zc_stats *st, const char *sep, char *buf,
    size_t size)
{
	size_t n = 0;
	int m;

	buf[0] = '\0';
	for (m = 0; m < ZC_METHOD_COUNT && n < size; m++)
		if (st->by_method[m] != 0)
			n += snprintf(buf + n, size - n, "%s%s", n ? sep : "",
			    zc_method_name(m));
}

/* " (METHODS)", or " (METHODS in, METHODS out)" when the source and
 * the sink moved their bytes differently; "" when nothing moved. */
static void
methods_text(const struct zc_stats *in, const struct zc_stats *out,
    char *buf, size_t size)
{
	char a[96], b[96];

	method_list(in->bytes ? in : out, "+", a, sizeof(a));
	method_list(out->bytes ? out : in, "+", b, sizeof(b));
	if (a[0] == '\0')
		buf[0] = '\0';
	else if (strcmp(a, b) != 0)
		snprintf(buf, size, " (%s in, %s out)", a, b);
	else {
		method_list(out->bytes ? out : in, ", ", a, sizeof(a));
		snprintf(buf, size, " (%s)", a);
	}
}

/* The -v line at the end of a connection: bytes each way. */
static void
summary(struct conn *c)
{
	struct zc_stats st[2];
	char m[2][256];
	double secs = (now_ms() - c->start) / 1000.0;
	int net, i;

	for (i = 0; i < 2; i++) {
		dir_stats(&c->d[i], &st[i]);
		methods_text(&c->d[i].in, &st[i], m[i], sizeof(m[i]));
		if (dir_off[i]) {	/* dropped bytes were not received */
			memset(&st[i], 0, sizeof(st[i]));
			m[i][0] = '\0';
		}
	}
	if (c->e[0].stdio || c->e[1].stdio) {
		net = c->e[0].stdio ? 1 : 0;
		/* d[1 - net] reads stdin: sent; d[net] reads the net. */
		fprintf(stderr, "%s: %s: sent %ju bytes%s, received %ju "
		    "bytes%s in %.3f s\n", getprogname(), c->e[net].label,
		    (uintmax_t)st[1 - net].bytes, m[1 - net],
		    (uintmax_t)st[net].bytes, m[net], secs);
	} else
		fprintf(stderr, "%s: %s: %ju bytes to %s%s, %ju bytes back%s "
		    "in %.3f s\n", getprogname(), c->e[0].label,
		    (uintmax_t)st[0].bytes, c->e[1].label, m[0],
		    (uintmax_t)st[1].bytes, m[1], secs);
}

/* Tears a connection down: its flows, sockets and connect. */
static void
conn_end(struct conn *c)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct dir *d = &c->d[i];

		if (d->flow != NULL) {
			zc_flow_sink_stats(d->flow, 0, &d->st);
			zc_flow_free(d->flow);
			d->flow = NULL;
		}
		d->running = 0;
	}
	if (c->cn != NULL) {
		zc_connect_cancel(c->cn);
		c->cn = NULL;
	}
	for (i = 0; i < 2; i++)
		if (c->d[i].lane >= 0)
			prog_done[c->d[i].lane] += c->d[i].st.bytes;
	if (vflag && c->established)
		summary(c);
	if (c->failed)
		rval = 1;
	end_close(&c->e[0]);
	end_close(&c->e[1]);
	LIST_REMOVE(c, entry);
	if (c->served && server != NULL)
		zc_server_done(server);
	free(c);
}

static void
conn_fail(struct conn *c, const char *label, int err)
{
	warnx("%s: %s", label, zc_strerror(err));
	c->failed = 1;
	conn_end(c);
}

static int
conn_idle(struct conn *c)
{
	return !c->d[0].running && !c->d[1].running;
}

/* Whether the TCP peer of socket fd has closed or reset it (a write
 * error that another cause made, with the peer still there, is an
 * error; so is one on a unix socket, whose peer may be a listener that
 * closed with the connection still in its backlog). */
static int
peer_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (void *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return 0;
	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	struct dir *d = arg;
	struct conn *c = d->c;
	struct end *src = &c->e[d->i], *dst = &c->e[1 - d->i];
	int keep = kflag && (src->stdio || dst->stdio);
	int r;

	if (dir_off[d->i]) {
		/* Bytes read only so that closing does not reset. */
		zc_flow_free(f);
		d->flow = NULL;
		d->running = 0;
		if (conn_idle(c))
			conn_end(c);
		return;
	}

	zc_flow_sink_stats(f, 0, &d->st);
	zc_flow_stats(f, &d->in);
	zc_flow_free(f);
	d->flow = NULL;
	d->running = 0;
	/* As in nc, a peer that closed while bytes were still going to it
	 * ends that direction, not in an error; so does the reset that
	 * reading it may then find. */
	if (err == -EPIPE || err == -ECONNRESET) {
		if (d->sink_err ? dst->sock && peer_closed(dst->wfd) :
		    (src->sock && c->peer_gone)) {
			c->peer_gone = 1;
			if (!d->sink_err)
				err = 0;
			else {
				if (conn_idle(c))
					conn_end(c);
				return;
			}
		}
	}
	if (err < 0) {
		if (d->sink_err)
			conn_fail(c, dst->stdio ? "stdout" : dst->label, err);
		else
			conn_fail(c, src->stdio ? "stdin" : src->label, err);
		return;
	}
	if ((r = end_finish(dst, keep)) < 0) {
		conn_fail(c, dst->stdio ? "stdout" : dst->label, r);
		return;
	}
	/* -q 0 waits for the peer, as nc does (the half-close is done). */
	if (src->stdio) {
		stdin_eof = 1;
		if (qsecs > 0)
			c->quit_at = now_ms() + qsecs * 1000;
	} else if (nspecs == 2 && d->i == 0 && qsecs > 0)
		c->quit_at = now_ms() + qsecs * 1000;
	/* With -k, standard input serves the next client once this one
	 * has sent everything. */
	if (keep && dst->stdio) {
		conn_end(c);
		return;
	}
	if (conn_idle(c))
		conn_end(c);
}

/* Sink 0 is the far end: its error ends the direction. Sink 1 is the
 * direction's tap: told once, dropped, and the relay goes on. */
static int
on_sink_error(struct zc_flow *f, int sink, int err, void *arg)
{
	struct dir *d = arg;

	if (sink == 0) {
		d->sink_err = 1;
		return err;
	}
	if (!tap[d->i].gone) {
		if (err == -ZC_ELAG)
			warnx("tap '%s': cut off: more than %ju bytes behind",
			    esc(tap[d->i].text), (uintmax_t)max_lag);
		else
			warnx("tap '%s': %s", esc(tap[d->i].text),
			    zc_strerror(err));
	}
	tap[d->i].gone = 1;
	rval = 1;
	return 0;
}

/* Adds d's tap, if it has one, to its flow: lossless, or lossy with
 * --max-lag. Returns 0 or -errno. */
static int
add_tap(struct dir *d)
{
	struct zc_sink_opts so;
	int r;

	if (tap[d->i].fd < 0 || tap[d->i].gone)
		return 0;
	if (max_lag == 0)
		r = zc_flow_add_sink(d->flow, tap[d->i].fd);
	else {
		memset(&so, 0, sizeof(so));
		so.max_lag = max_lag;
		r = zc_flow_add_sink_opts(d->flow, tap[d->i].fd, &so);
	}
	return r < 0 ? r : 0;
}

/* The bytes left to read on standard input when it is a regular file,
 * else 0. */
static uint64_t
stdin_size(void)
{
	struct stat sb;
	off_t off;

	if (fstat(0, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (off = lseek(0, 0, SEEK_CUR)) == -1 || off >= sb.st_size)
		return 0;
	return sb.st_size - off;
}

/* The lane of the progress line for a direction reading src, made when
 * first needed: "send" (standard input to the socket) and "recv", or
 * "a->b" and "b->a" in a relay; -1 without -P. */
static int
dir_lane(struct conn *c, struct dir *d, const struct end *src)
{
	static int lanes[2] = { -1, -1 };
	int stdio = c->e[0].stdio || c->e[1].stdio, k;

	if (!Pflag)
		return -1;
	k = stdio ? !src->stdio : d->i;
	if (lanes[k] < 0)
		lanes[k] = progress_lane(&prog,
		    stdio ? (k == 0 ? "send" : "recv") :
		    (k == 0 ? "a->b" : "b->a"),
		    stdio && k == 0 ? stdin_size() : 0);
	return lanes[k];
}

/* Redraws the progress line with the bytes delivered each way so far. */
static void
progress_tick(int final)
{
	struct zc_stats st;
	struct conn *c;
	uint64_t b[PROGRESS_LANES];
	int i;

	memcpy(b, prog_done, sizeof(b));
	if (bflow != NULL && blane >= 0) {
		zc_flow_stats(bflow, &st);
		b[blane] += st.bytes;
	}
	LIST_FOREACH(c, &conns, entry)
		for (i = 0; i < 2; i++)
			if (c->d[i].lane >= 0) {
				dir_stats(&c->d[i], &st);
				b[c->d[i].lane] += st.bytes;
			}
	for (i = 0; i < PROGRESS_LANES; i++)
		progress_set(&prog, i, b[i]);
	progress_draw(&prog, final);
}

/* Starts the flows of a connection whose ends are both open. */
static void
conn_start(struct conn *c)
{
	struct zc_flow_opts o;
	int i, r;

	c->established = 1;
	c->active_at = now_ms();
	for (i = 0; i < 2; i++) {
		struct dir *d = &c->d[i];
		struct end *src = &c->e[i], *dst = &c->e[1 - i];

		d->c = c;
		d->i = i;
		/* A socket's bytes of a direction left out are read and
		 * dropped: a close with bytes unread would reset the
		 * connection, and the peer could lose what it was sent. */
		if (dir_off[i] && !src->sock)
			continue;
		if (src->stdio && dflag)
			continue;
		if (src->stdio && stdin_eof) {
			if ((r = end_finish(dst, 1)) < 0) {
				conn_fail(c, dst->label, r);
				return;
			}
			continue;
		}
		memset(&o, 0, sizeof(o));
		o.flags = nosplice ? ZC_FLOW_NO_SPLICE : 0;
		if (splicetcp)
			o.flags |= ZC_FLOW_SPLICE_TCP;
		if (copyout)
			o.flags |= ZC_FLOW_COPY_OUT;
		/* What a client that leaves did not get of standard input
		 * goes to the next one first (one sink only: not tapped). */
		if (src->stdio && kflag && tap[i].fd < 0)
			o.flags |= ZC_FLOW_KEEP_REST;
		o.limit = ZC_NO_LIMIT;
		if (rate > 0) {
			o.flags |= ZC_FLOW_RATE;
			o.rate = rate;
		}
		o.on_done = on_done;
		o.on_sink_error = on_sink_error;
		o.arg = d;
		if ((d->flow = zc_flow_new(loop, src->rfd, &o)) == NULL) {
			conn_fail(c, src->stdio ? "stdin" : src->label, -errno);
			return;
		}
		d->running = 1;
		d->lane = dir_lane(c, d, src);
		if ((r = zc_flow_add_sink(d->flow, dir_off[i] ? devnull :
		    dst->wfd)) < 0) {
			conn_fail(c, dst->stdio ? "stdout" : dst->label, r);
			return;
		}
		if (!dir_off[i] && (r = add_tap(d)) < 0) {
			char label[LABEL_MAX];

			snprintf(label, sizeof(label), "tap '%s'",
			    esc(tap[i].text));
			conn_fail(c, label, r);
			return;
		}
	}
	if (conn_idle(c))
		conn_end(c);
}

/* The connect to the target called back: connected, or it failed. */
static void
on_connected(struct zc_connect *cn, int fd, void *arg)
{
	struct conn *c = arg;
	struct end *e = &c->e[1];

	c->cn = NULL;
	if (fd < 0) {
		conn_fail(c, e->label, fd);
		return;
	}
	e->rfd = e->wfd = fd;
	e->owned = 1;
	e->sock = 1;
	if (vflag && !target.is_unix)
		say_connected(spec[target.idx].host, fd);
	conn_start(c);
}

/* Opens the far end of c: connects without blocking when the target is
 * a TCP or unix socket, else opens it with zc_endpoint_open. */
static void
conn_open_target(struct conn *c)
{
	struct end *e = &c->e[1];
	struct zc_endpoint ep;
	unsigned fl;
	int r;

	if (target.idx < 0) {
		end_stdio(e);
		conn_start(c);
		return;
	}
	snprintf(e->label, sizeof(e->label), "spec '%s'",
	    esc(spec_text[target.idx]));
	if (target.async) {
		c->cn = zc_connect_start(loop, &spec[target.idx], have_src &&
		    !target.is_unix ? &srcaddr : NULL, oflags,
		    wsecs > 0 ? wsecs * 1000 : -1, on_connected, c);
		if (c->cn == NULL)
			conn_fail(c, e->label, -errno);
		return;
	}
	fl = oflags | ZC_OPEN_NONBLOCK | (dir_off[0] ? 0 : ZC_OPEN_WRITE) |
	    (dir_off[1] ? 0 : ZC_OPEN_READ);
	r = zc_endpoint_open(&ep, &spec[target.idx], fl,
	    wsecs > 0 ? wsecs * 1000 : -1);
	if (r < 0) {
		conn_fail(c, e->label, r);
		return;
	}
	e->rfd = e->wfd = ep.fd;
	e->owned = ep.owned;
	e->sock = ep.kind == ZC_KIND_SOCKET;
	if (!dir_off[0] && !dir_off[1] && !e->sock &&
	    ep.kind != ZC_KIND_TTY && ep.kind != ZC_KIND_CHAR) {
		warnx("%s: a %s cannot be relayed both ways (use --send-only "
		    "or --recv-only)", e->label, zc_kind_name(ep.kind));
		c->failed = 1;
		conn_end(c);
		return;
	}
	conn_start(c);
}

static struct conn *
conn_new(void)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->e[0].rfd = c->e[0].wfd = -1;
	c->e[1].rfd = c->e[1].wfd = -1;
	c->d[0].lane = c->d[1].lane = -1;
	c->start = now_ms();
	LIST_INSERT_HEAD(&conns, c, entry);
	return c;
}

static int
conn_limit(void)
{
	int max = maxconns;

	/* Standard input and output serve one client at a time; so does
	 * a tap, which gets every connection's bytes in turn. */
	if ((target.idx < 0 || tap[0].fd >= 0 || tap[1].fd >= 0) &&
	    (max == 0 || max > 1))
		max = 1;
	return max;
}

/* nc's -v line for an accepted connection: "Connection received on
 * ADDR PORT"; for unix sockets the path the client bound (escaped), or
 * the listener's when it bound none, as nc writes. */
static void
say_received(int fd, const char *peer)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (numeric_addr(fd, 0, host, sizeof(host), serv, sizeof(serv)) == 0)
		fprintf(stderr, "Connection received on %s %s\n", host, serv);
	else if (strcmp(peer, "unix socket") != 0)
		fprintf(stderr, "Connection received on %s\n", peer);
	else
		fprintf(stderr, "Connection received on %s\n",
		    esc(spec[0].path));
}

static void
stop_listening(void)
{
	zc_server_free(server);
	server = NULL;
	/* While lfd pins its inode, whose number a new file cannot take. */
	zc_sockfile_unlink(&sockfile);
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
}

/*
 * Accept failures that pause the listener are told at most once a second
 * (ACCEPT_SAY_MS): the ones in between are counted, and the next line,
 * or accept_flush once the second is over, gives their count.
 */
static struct {
	int64_t said_at;	/* ms; 0: nothing said yet */
	int last;
	int hidden;
} acc;

static void
accept_say(int err)
{
	if (acc.hidden > 0)
		warnx("spec '%s': %s (%d more not shown)",
		    esc(spec_text[0]), zc_strerror(err), acc.hidden);
	else
		warnx("spec '%s': %s", esc(spec_text[0]), zc_strerror(err));
	acc.hidden = 0;
	acc.said_at = now_ms();
}

static void
accept_warn(int err)
{
	acc.last = err;
	if (acc.said_at != 0 && now_ms() - acc.said_at < ACCEPT_SAY_MS)
		acc.hidden++;
	else
		accept_say(err);
}

/* Tells the failures not yet told: at once with now, else once the
 * second since the last line is over. */
static void
accept_flush(int now)
{
	if (acc.hidden > 0 && (now ||
	    now_ms() - acc.said_at >= ACCEPT_SAY_MS)) {
		acc.hidden--;
		accept_say(acc.last);
	}
}

/* The server paused for want of descriptors (every failed try is told,
 * at most once a second) or failed for good. */
static void
on_server_event(struct zc_server *sv, enum zc_server_event ev, int err,
    int fd, void *arg)
{
	switch (ev) {
	case ZC_SERVER_EV_PAUSED:
		accept_warn(err);
		start_tick();
		rval = 1;
		break;
	case ZC_SERVER_EV_FAILED:
		warnx("spec '%s': %s", esc(spec_text[0]), zc_strerror(err));
		rval = 1;
		stop_listening();
		break;
	case ZC_SERVER_EV_REFUSED:
		if (vflag) {
			char peer[256];

			peer_text(fd, 0, peer, sizeof(peer));
			warnx("spec '%s': %s: refused: %d clients already",
			    esc(spec_text[0]), peer, maxconns);
		}
		break;
	default:
		break;
	}
}

static void
on_accept(struct zc_server *sv, int s, void *arg)
{
	struct conn *c;
	char peer[256];

	if ((c = conn_new()) == NULL) {
		warn(NULL);
		close(s);
		zc_server_done(sv);
		rval = 1;
		return;
	}
	c->served = 1;
	c->e[0].rfd = c->e[0].wfd = s;
	c->e[0].owned = 1;
	c->e[0].sock = 1;
	peer_text(s, 0, peer, sizeof(peer));
	snprintf(c->e[0].label, sizeof(c->e[0].label),
	    "spec '%s': %s", esc(spec_text[0]), peer);
	if (vflag)
		say_received(s, peer);
	if (!kflag)
		stop_listening();
	conn_open_target(c);
}

/*
 * --broadcast: one live flow from standard input, whose sinks are the
 * clients connected (lossy, --max-lag); it reads and drops its input
 * when no client is there. What a client sends is read and dropped,
 * until its end of file.
 */

static struct client *
client_of(int sink)
{
	struct client *cl;

	LIST_FOREACH(cl, &clients, entry)
		if (cl->sink == sink)
			return cl;
	return NULL;
}

/* Removes a client: its sink (which closes its fd) and its watch. */
static void
client_free(struct client *cl)
{
	if (cl->watched)
		zc_loop_unwatch(loop, cl->fd);
	LIST_REMOVE(cl, entry);
	zc_flow_remove_sink(bflow, cl->sink);
	if (server != NULL)
		zc_server_done(server);
	free(cl);
}

/* Reads what a client sent and drops it; stops at its end of file. */
static void
client_read(struct zc_loop *l, int fd, unsigned revents, void *arg)
{
	static char scratch[64 * 1024];
	struct client *cl = arg;
	ssize_t n;
	int i;

	for (i = 0; i < 16; i++) {
		n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n > 0 || (n == -1 && errno == EINTR))
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		zc_loop_unwatch(l, fd);
		cl->watched = 0;
		return;
	}
}

/* A client left (a write failed) or was cut off (-ZC_ELAG): told with
 * -v, never an error. */
static int
b_sink_error(struct zc_flow *f, int sink, int err, void *arg)
{
	struct client *cl = client_of(sink);
	struct zc_stats st, fs;

	if (cl == NULL)
		return 0;
	zc_flow_sink_stats(f, sink, &st);
	zc_flow_stats(f, &fs);
	if (!vflag)
		;
	else if (err == -ZC_ELAG && fs.bytes - cl->joined_at - st.bytes >
	    max_lag)
		warnx("%s: cut off after %ju bytes: more than %ju bytes "
		    "behind", cl->label, (uintmax_t)st.bytes,
		    (uintmax_t)max_lag);
	else if (err == -ZC_ELAG)
		warnx("%s: cut off after %ju bytes: stalled at end of input",
		    cl->label, (uintmax_t)st.bytes);
	else if (err == -EPIPE || err == -ECONNRESET)
		warnx("%s: left after %ju bytes", cl->label,
		    (uintmax_t)st.bytes);
	else
		warnx("%s: left after %ju bytes: %s", cl->label,
		    (uintmax_t)st.bytes, zc_strerror(err));
	client_free(cl);
	return 0;
}

/* Ends the broadcast: every client still there gets its end of file
 * (its write side shut, what it sent read, so that closing sends no
 * reset that could cost it the tail); told with -v when say. */
static void
b_end(int say)
{
	struct client *cl;
	struct zc_stats st;

	while ((cl = LIST_FIRST(&clients)) != NULL) {
		zc_flow_sink_stats(bflow, cl->sink, &st);
		if (vflag && say)
			warnx("%s: ended after %ju bytes", cl->label,
			    (uintmax_t)st.bytes);
		sock_end(cl->fd);
		client_free(cl);
	}
	if (blane >= 0) {
		zc_flow_stats(bflow, &st);
		prog_done[blane] += st.bytes;
	}
	zc_flow_free(bflow);
	bflow = NULL;
	stop_listening();
}

static void
b_done(struct zc_flow *f, int err, void *arg)
{
	if (err < 0 && err != -EPIPE) {
		warnx("stdin: %s", zc_strerror(err));
		rval = 1;
	}
	b_end(1);
}

/* A client joins: a lossy sink of the live flow from now on. */
static void
b_accept(struct zc_server *sv, int fd, void *arg)
{
	struct zc_sink_opts so;
	struct client *cl;
	struct zc_stats fs;
	char peer[256];
	int r;

	peer_text(fd, 0, peer, sizeof(peer));
	if (vflag)
		say_received(fd, peer);
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		warn(NULL);
		close(fd);
		zc_server_done(sv);
		rval = 1;
		return;
	}
	cl->fd = fd;
	snprintf(cl->label, sizeof(cl->label), "spec '%s': %s",
	    esc(spec_text[0]), peer);
	zc_flow_stats(bflow, &fs);
	cl->joined_at = fs.bytes;
	memset(&so, 0, sizeof(so));
	so.flags = ZC_SINK_CLOSE;
	so.max_lag = max_lag;
	if ((r = zc_flow_add_sink_opts(bflow, fd, &so)) < 0) {
		warnx("%s: %s", cl->label, zc_strerror(r));
		close(fd);
		free(cl);
		zc_server_done(sv);
		rval = 1;
		return;
	}
	cl->sink = r;
	LIST_INSERT_HEAD(&clients, cl, entry);
	if (zc_loop_watch(loop, fd, POLLIN, client_read, cl) == 0)
		cl->watched = 1;
}

/* The live flow from standard input, with no client yet. */
static void
start_broadcast(void)
{
	struct zc_flow_opts o;

	memset(&o, 0, sizeof(o));
	o.flags = ZC_FLOW_LIVE | (nosplice ? ZC_FLOW_NO_SPLICE : 0) |
	    (splicetcp ? ZC_FLOW_SPLICE_TCP : 0) |
	    (copyout ? ZC_FLOW_COPY_OUT : 0);
	o.limit = ZC_NO_LIMIT;
	if (rate > 0) {
		o.flags |= ZC_FLOW_RATE;
		o.rate = rate;
	}
	o.on_done = b_done;
	o.on_sink_error = b_sink_error;
	if ((bflow = zc_flow_new(loop, STDIN_FILENO, &o)) == NULL)
		errx(1, "stdin: %s", strerror(errno));
	if (Pflag)
		blane = progress_lane(&prog, "send", stdin_size());
}

/* Timers: -w idle, -q, the accept failure lines, -P. */
static void
on_tick(void *arg)
{
	struct conn *c, *next;
	int64_t now = now_ms();

	accept_flush(0);
	if (Pflag)
		progress_tick(0);
	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (!c->established)
			continue;
		if (c->quit_at > 0 && now >= c->quit_at) {
			conn_end(c);
			continue;
		}
		if (wsecs > 0) {
			struct zc_stats st;
			uint64_t seen = 0;
			int i;

			/* Bytes in or out: a flow may be writing what an
			 * earlier one read (ZC_FLOW_KEEP_REST). */
			for (i = 0; i < 2; i++) {
				if (c->d[i].flow != NULL) {
					zc_flow_stats(c->d[i].flow, &st);
					seen += st.bytes;
					zc_flow_sink_stats(c->d[i].flow, 0,
					    &st);
				} else
					st = c->d[i].st;
				seen += st.bytes;
			}
			/* Idle: over, and not an error, as in nc. */
			if (seen != c->seen) {
				c->seen = seen;
				c->active_at = now;
			} else if (now - c->active_at >= wsecs * 1000)
				conn_end(c);
		}
	}
}

/* Whether anything is left to do. */
static int
busy(void)
{
	return !LIST_EMPTY(&conns) || lfd >= 0 || bflow != NULL;
}

/* Turns on the tick that drives the timers. */
static void
start_tick(void)
{
	if (ticking)
		return;
	zc_loop_set_tick(loop, TICK_MS, on_tick, NULL);
	ticking = 1;
}

/* Checks that the target of every connection resolves, before any
 * client comes; exits with the spec message when it cannot be used. */
static void
prepare_target(void)
{
	struct zc_spec *sp;
	struct addrinfo hints, *ai;
	struct stat sb;
	const char *path = NULL;
	int r;

	if (target.idx < 0)
		return;
	sp = &spec[target.idx];
	switch (sp->kind) {
	case ZC_SPEC_TCP:
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = sp->family;
		if (oflags & ZC_OPEN_IPV4)
			hints.ai_family = AF_INET;
		if (oflags & ZC_OPEN_IPV6)
			hints.ai_family = AF_INET6;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_protocol = IPPROTO_TCP;
		hints.ai_flags = AI_NUMERICSERV | (nflag ? AI_NUMERICHOST : 0);
		r = getaddrinfo(sp->host[0] != '\0' ? sp->host : NULL,
		    sp->port, &hints, &ai);
		if (r != 0)
			errx(1, "spec '%s': %s", esc(spec_text[target.idx]),
			    r == EAI_SYSTEM ? strerror(errno) :
			    gai_strerror(r));
		freeaddrinfo(ai);
		target.async = 1;
		return;
	case ZC_SPEC_UNIX:
		path = sp->path;
		break;
	case ZC_SPEC_PATH:
		if (stat(sp->path, &sb) == 0 && S_ISSOCK(sb.st_mode))
			path = sp->path;
		else if (!dir_off[0] && !dir_off[1] &&
		    (stat(sp->path, &sb) == -1 || !S_ISCHR(sb.st_mode)))
			errx(1, "spec '%s': a file cannot be relayed both "
			    "ways (use --send-only or --recv-only)",
			    esc(spec_text[target.idx]));
		break;
	case ZC_SPEC_FILE:
		if (!dir_off[0] && !dir_off[1])
			errx(1, "spec '%s': a file cannot be relayed both "
			    "ways (use --send-only or --recv-only)",
			    esc(spec_text[target.idx]));
		break;
	case ZC_SPEC_TCP_LISTEN:
	case ZC_SPEC_UNIX_LISTEN:
		if (kflag)
			errx(1, "spec '%s': only the first spec may listen "
			    "with -k", esc(spec_text[target.idx]));
		break;
	default:
		break;
	}
	if (path == NULL)
		return;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		errx(1, "spec '%s': %s", esc(spec_text[target.idx]),
		    strerror(ENAMETOOLONG));
	target.is_unix = 1;
	target.async = 1;
}

/* Makes e standard input and output. */
static void
end_stdio(struct end *e)
{
	e->rfd = 0;
	e->wfd = 1;
	e->stdio = 1;
	e->sock = zc_fd_kind(1) == ZC_KIND_SOCKET;
	snprintf(e->label, sizeof(e->label), "-");
}

/* Opens spec[0] when it does not listen: the near end of the only
 * connection. */
static void
open_near(struct conn *c)
{
	struct zc_endpoint ep;
	struct end *e = &c->e[0];
	unsigned fl;
	int r;

	if (nspecs == 1 || strcmp(spec_text[0], "-") == 0) {
		end_stdio(e);
		return;
	}
	snprintf(e->label, sizeof(e->label), "spec '%s'", esc(spec_text[0]));
	fl = oflags | ZC_OPEN_NONBLOCK | (dir_off[0] ? 0 : ZC_OPEN_READ) |
	    (dir_off[1] ? 0 : ZC_OPEN_WRITE);
	r = zc_endpoint_open_from(&ep, &spec[0], have_src &&
	    spec[0].kind == ZC_SPEC_TCP ? &srcaddr : NULL, fl,
	    wsecs > 0 ? wsecs * 1000 : -1);
	if (r < 0)
		errx(1, "%s: %s", e->label, zc_strerror(r));
	e->rfd = e->wfd = ep.fd;
	e->owned = ep.owned;
	e->sock = ep.kind == ZC_KIND_SOCKET;
	if (vflag && e->sock && spec[0].kind == ZC_SPEC_TCP)
		say_connected(spec[0].host, ep.fd);
	if (!dir_off[0] && !dir_off[1] && !e->sock &&
	    ep.kind != ZC_KIND_TTY && ep.kind != ZC_KIND_CHAR)
		errx(1, "%s: a %s cannot be relayed both ways (use "
		    "--send-only or --recv-only)", e->label,
		    zc_kind_name(ep.kind));
}

/* Standard input and output that are sockets go non-blocking for the
 * whole run, so that two flows sharing one socket agree on its flags. */
static void
stdio_nonblock(int restore)
{
	int fd, fl;

	for (fd = 0; fd < 2; fd++) {
		if (restore) {
			if (stdio_fl[fd] != -1)
				fcntl(fd, F_SETFL, stdio_fl[fd]);
			continue;
		}
		if (zc_fd_kind(fd) != ZC_KIND_SOCKET ||
		    (fl = fcntl(fd, F_GETFL)) == -1)
			continue;
		stdio_fl[fd] = fl;
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
}

static void
start_listening(void)
{
	struct zc_server_opts so;
	char buf[LABEL_MAX];

	lfd = zc_listen_sockfile(&spec[0], oflags | ZC_OPEN_NONBLOCK,
	    SOMAXCONN, &sockfile);
	if (lfd < 0)
		errx(1, "spec '%s': %s", esc(spec_text[0]), zc_strerror(lfd));
	/* nc's lines: "Bound on PATH" first for a unix socket. */
	if (vflag && spec[0].kind == ZC_SPEC_UNIX_LISTEN)
		fprintf(stderr, "Bound on %s\nListening on %s\n",
		    esc(spec[0].path), esc(spec[0].path));
	else if (vflag) {
		char serv[NI_MAXSERV];

		if (numeric_addr(lfd, 1, buf, sizeof(buf), serv,
		    sizeof(serv)) == 0)
			fprintf(stderr, "Listening on %s %s\n", buf, serv);
	}
	memset(&so, 0, sizeof(so));
	so.open_flags = ZC_OPEN_NONBLOCK;
	so.max_conns = bflag ? maxconns : conn_limit();
	/* A broadcast closes the clients over -m at once. */
	so.flags = bflag ? ZC_SERVER_REFUSE : 0;
	so.on_accept = bflag ? b_accept : on_accept;
	so.on_event = on_server_event;
	if ((server = zc_server_new(loop, lfd, &so)) == NULL)
		errx(1, "spec '%s': %s", esc(spec_text[0]), strerror(errno));
}

/* The end (0 or 1) that is standard input and output, or -1. */
static int
stdio_end(void)
{
	if (nspecs == 1)
		return is_listen(&spec[0]) ? 1 : 0;
	if (strcmp(spec_text[0], "-") == 0)
		return 0;
	if (strcmp(spec_text[1], "-") == 0)
		return 1;
	return -1;
}

/* Which direction --send-only, --recv-only or --one-way leave out: d[i]
 * reads e[i]; sending reads standard input (in a relay without it, A). */
static void
set_directions(void)
{
	int end = stdio_end(), send = end >= 0 ? end : 0;

	switch (oneway) {
	case SEND_ONLY:
		dir_off[1 - send] = 1;
		break;
	case RECV_ONLY:
		dir_off[send] = 1;
		break;
	case A_TO_B:
		dir_off[1] = 1;
		break;
	}
}

/* Exits 1 when standard input or output that a connection would use
 * was closed at start: reading it is an error unless -d, and so is
 * writing it unless -u leaves that direction out. */
static void
check_stdio(void)
{
	int near = stdio_end(), in, out;

	if (near < 0)
		return;
	/* Direction near reads standard input, 1 - near writes stdout. */
	in = stdio_closed(STDIN_FILENO) && !dflag && !dir_off[near];
	out = stdio_closed(STDOUT_FILENO) && !dir_off[1 - near];
	if (in)
		warnx("standard input: %s", strerror(EBADF));
	if (out)
		warnx("standard output: %s", strerror(EBADF));
	if (in || out)
		exit(1);
}

/* Exits with a message when -n is given and host is a name. */
static void
check_numeric(const char *text, const char *host)
{
	struct addrinfo hints, *res;

	if (!nflag || host[0] == '\0')
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		errx(1, "spec '%s': '%s' is not a numeric address (-n: no "
		    "DNS)", esc(text), esc(host));
	freeaddrinfo(res);
}

/* A port operand or option argument as a number from lo to 65535: a
 * number or a TCP service name; exits with what as the message. */
static int
port_number(const char *word, int lo, const char *what)
{
	const char *errstr;
	int port;

	port = strtonum(port_word(word), lo, 65535, &errstr);
	if (errstr != NULL)
		errx(1, "%s: port number invalid: %s", what, esc(word));
	return port;
}

/* Tries one port for -z: 1 when a connection was made. */
static int
probe(const struct zc_spec *base, int port)
{
	struct zc_spec sp = *base;
	struct zc_endpoint ep;
	int r;

	snprintf(sp.port, sizeof(sp.port), "%d", port);
	r = zc_endpoint_open_from(&ep, &sp, have_src ? &srcaddr : NULL,
	    oflags | ZC_OPEN_READ | ZC_OPEN_WRITE,
	    wsecs > 0 ? wsecs * 1000 : -1);
	if (r <= -ZC_EAI_BASE)
		errx(1, "spec '%s': %s", esc(sp.host), zc_strerror(r));
	if (r < 0) {
		if (vflag)
			warnx("connect to %s port %d (tcp) failed: %s",
			    esc(sp.host), port, zc_strerror(r));
		return 0;
	}
	if (vflag)
		say_connected(sp.host, ep.fd);
	zc_endpoint_close(&ep);
	return 1;
}

/* -z: tries every port of words (numbers, service names, LOW-HIGH
 * ranges) on host in turn, as nc -z; exits 0 when one was open, else 1. */
static void __attribute__((noreturn))
scan(const char *host, char **words, int nwords)
{
	struct zc_spec sp;
	char *lo, *hi;
	int i, a, b, p, open = 0;
	size_t len = strlen(host);

	memset(&sp, 0, sizeof(sp));
	sp.kind = ZC_SPEC_TCP;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len >= sizeof(sp.host))
		errx(1, "spec '%s': host name too long", esc(host));
	memcpy(sp.host, host, len);
	if (strchr(sp.host, ':') != NULL)
		sp.family = AF_INET6;
	check_numeric(sp.host, sp.host);
	for (i = 0; i < nwords; i++) {
		if ((lo = strdup(words[i])) == NULL)
			err(1, NULL);
		if ((hi = strchr(lo + 1, '-')) != NULL)
			*hi++ = '\0';
		a = port_number(lo, 1, "-z");
		b = hi != NULL ? port_number(hi, 1, "-z") : a;
		free(lo);
		if (a > b) {
			p = a;
			a = b;
			b = p;
		}
		for (p = a; p <= b; p++)
			open |= probe(&sp, p);
	}
	exit(open ? 0 : 1);
}

/* Fills src from -s and -p, for connects; exits when either is bad. */
static void
make_src(const char *addr, const char *port)
{
	const char *why = "malformed";
	char *buf;

	if (asprintf(&buf, "listen:%s%s%s:0", addr != NULL &&
	    strchr(addr, ':') != NULL ? "[" : "", addr != NULL ? addr : "",
	    addr != NULL && strchr(addr, ':') != NULL ? "]" : "") == -1)
		err(1, NULL);
	if (addr == NULL)
		memmove(buf + 7, buf + 8, strlen(buf + 8) + 1);
	if (zc_spec_parse(&srcaddr, buf, &why) != 0)
		errx(1, "-s: %s: %s", esc(addr), why);
	free(buf);
	if (addr != NULL)
		check_numeric(addr, srcaddr.host);
	snprintf(srcaddr.port, sizeof(srcaddr.port), "%d",
	    port != NULL ? port_number(port, 0, "-p") : 0);
	have_src = 1;
}

/* Lets many connections at once have their descriptors. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	const char *errstr;
	char *hp = NULL;
	const char *pflag = NULL, *sflag = NULL;
	int ch, lflag = 0, Uflag = 0, r, way;

	stdio_guard();
	while ((ch = getopt_long(argc, argv, "46adhkL:lm:Nnp:Pq:s:Uuvw:z",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			oflags |= ZC_OPEN_APPEND;
			break;
		case 'n':
			nflag = 1;
			oflags |= ZC_OPEN_NUMERIC;
			break;
		case 'p':
			pflag = optarg;
			break;
		case 's':
			sflag = optarg;
			break;
		case 'z':
			zflag = 1;
			break;
		case OPT_BROADCAST:
			bflag = 1;
			break;
		case OPT_MAX_LAG:
			max_lag = parse_size("max lag", optarg);
			if (max_lag == 0)
				errx(1, "invalid max lag: '%s'", esc(optarg));
			break;
		case OPT_TAP:
		case OPT_TAP_BACK:
			tap[ch == OPT_TAP_BACK].text = optarg;
			break;
		case OPT_ONE_WAY:
		case OPT_RECV_ONLY:
		case OPT_SEND_ONLY:
			way = ch == OPT_ONE_WAY ? A_TO_B :
			    ch == OPT_RECV_ONLY ? RECV_ONLY : SEND_ONLY;
			if (oneway != BOTH_WAYS && oneway != way)
				errx(1, "--send-only, --recv-only and --one-way "
				    "cannot go together");
			oneway = way;
			break;
		case '4':
			oflags = (oflags & ~ZC_OPEN_IPV6) | ZC_OPEN_IPV4;
			break;
		case '6':
			oflags = (oflags & ~ZC_OPEN_IPV4) | ZC_OPEN_IPV6;
			break;
		case 'd':
			dflag = 1;
			break;
		case 'h':
			help();
		case 'k':
			kflag = 1;
			break;
		case 'l':
			lflag = 1;
			break;
		case 'm':
			maxconns = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL)
				errx(1, "-m: max connections %s: %s", errstr,
				    esc(optarg));
			break;
		case 'L':
			rate = parse_rate(optarg);
			break;
		case 'N':
			break;
		case 'P':
			Pflag = 1;
			break;
		case 'q':
			qsecs = strtonum(optarg, -1, 86400, &errstr);
			if (errstr != NULL)
				errx(1, "-q: seconds %s: %s", errstr,
				    esc(optarg));
			break;
		case 'C':
			copyout = 1;
			break;
		case 'S':
			nosplice = 1;
			break;
		case 'T':
			splicetcp = 1;
			break;
		case 'U':
			Uflag = 1;
			break;
		case 'u':
			errx(1, "-u: UDP is not supported, only TCP and unix "
			    "stream sockets (one way: --send-only or "
			    "--recv-only)");
		case 'V':
			printf("%s (zerocopy) %s\n", getprogname(),
			    zc_version());
			stdout_exit(0);
		case 'v':
			vflag = 1;
			break;
		case 'w':
			wsecs = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(1, "-w: seconds %s: %s", errstr,
				    esc(optarg));
			break;
		default:
			usage();
		}
	}
	if (nosplice + splicetcp + copyout > 1)
		errx(1, "--no-splice, --splice-tcp and --copy-out cannot go "
		    "together");
	argc -= optind;
	argv += optind;

	if (zflag) {
		if (lflag || Uflag || oneway != BOTH_WAYS)
			errx(1, "-z cannot go with -l, -U, --send-only, "
			    "--recv-only or --one-way");
		if (argc < 2)
			usage();
		if (pflag != NULL || sflag != NULL)
			make_src(sflag, pflag);
		scan(argv[0], argv + 1, argc - 1);
	}
	if (lflag && (pflag != NULL || sflag != NULL)) {
		/* nc's "-l -p PORT [-s ADDR]", and "-l -p PORT HOST". */
		const char *h = sflag, *port = pflag;
		int v6;

		if (Uflag)
			errx(1, "-p and -s cannot go with -U");
		if (port == NULL) {
			if (argc != 1)
				usage();
			port = argv[0];
		} else if (argc == 1 && h == NULL)
			h = argv[0];
		else if (argc != 0)
			usage();
		v6 = h != NULL && strchr(h, ':') != NULL && h[0] != '[';
		if (asprintf(&hp, "%s%s%s%s%s", v6 ? "[" : "", h ? h : "",
		    v6 ? "]" : "", h ? ":" : "", port_word(port)) == -1)
			err(1, NULL);
		argv[0] = hp;
		argc = 1;
		hp = NULL;
	} else if (pflag != NULL || sflag != NULL) {
		if (Uflag)
			errx(1, "-p and -s cannot go with -U");
		make_src(sflag, pflag);
	}
	if (argc < 1 || argc > 3)
		usage();
	if (argc >= 2 && !Uflag && host_port_pair(argv[0], argv[1])) {
		int v6 = strchr(argv[0], ':') != NULL && argv[0][0] != '[';

		if (asprintf(&hp, "%s%s%s:%s", v6 ? "[" : "", argv[0],
		    v6 ? "]" : "", port_word(argv[1])) == -1)
			err(1, NULL);
		spec_text[0] = hp;
		argc--;
		argv++;
	} else if (lflag && !Uflag && argc == 1)
		spec_text[0] = port_word(argv[0]);
	else
		spec_text[0] = argv[0];
	if (argc == 3)
		usage();
	if (argc == 2)
		spec_text[1] = argv[1];
	nspecs = argc;
	make_spec(&spec[0], spec_text[0], lflag, Uflag);
	if (nspecs == 2)
		make_spec(&spec[1], spec_text[1], 0, 0);
	if (kflag && !is_listen(&spec[0]))
		errx(1, "-k needs a listening spec (-l)");
	if (maxconns > 0 && !kflag)
		errx(1, "-m needs -k");
	if (nspecs == 2 && strcmp(spec_text[1], "-") != 0)
		target.idx = 1;
	else if (nspecs == 1 && !is_listen(&spec[0]))
		target.idx = 0;
	else
		target.idx = -1;
	for (r = 0; r < nspecs; r++)
		if (spec[r].kind == ZC_SPEC_TCP ||
		    spec[r].kind == ZC_SPEC_TCP_LISTEN)
			check_numeric(spec_text[r], spec[r].host);
	if (have_src && spec[0].kind != ZC_SPEC_TCP && (target.idx < 0 ||
	    spec[target.idx].kind != ZC_SPEC_TCP))
		errx(1, "-p and -s need a TCP connection to make");
	set_directions();
	if (bflag && (!kflag || nspecs != 1 || !is_listen(&spec[0])))
		errx(1, "--broadcast needs -k and one listening spec (-l)");
	if (bflag && (dflag || oneway != BOTH_WAYS || qsecs >= 0 ||
	    wsecs > 0 || tap[0].text != NULL || tap[1].text != NULL))
		errx(1, "--broadcast cannot go with -d, -q, -w, --send-only, "
		    "--recv-only, --one-way, --tap or --tap-back");
	if ((tap[0].text != NULL || tap[1].text != NULL) && nspecs != 2)
		errx(1, "--tap and --tap-back need a relay (two specs)");
	for (r = 0; r < 2; r++)
		if (tap[r].text != NULL && dir_off[r])
			errx(1, "%s: the %s direction is left out",
			    r ? "--tap-back" : "--tap", r ? "B to A" : "A to B");
	if (max_lag > 0 && !bflag && tap[0].text == NULL &&
	    tap[1].text == NULL)
		errx(1, "--max-lag needs --broadcast, --tap or --tap-back");
	if (bflag && max_lag == 0)
		max_lag = MAX_LAG_DEFAULT;
	check_stdio();
	if ((dir_off[0] || dir_off[1]) &&
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		err(1, "/dev/null");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	raise_fd_limit();
	stdio_nonblock(0);

	if ((loop = zc_loop_new()) == NULL)
		err(1, "zc_loop_new");
	prepare_target();
	if (Pflag)
		progress_init(&prog, PROGRESS_NONE);
	if (wsecs > 0 || qsecs > 0 || Pflag)
		start_tick();

	for (r = 0; r < 2; r++) {
		struct zc_endpoint ep;

		if (tap[r].text == NULL)
			continue;
		open_spec(&ep, tap[r].text, ZC_OPEN_WRITE | (oflags &
		    (ZC_OPEN_APPEND | ZC_OPEN_IPV4 | ZC_OPEN_IPV6 |
		    ZC_OPEN_NUMERIC)), wsecs > 0 ? wsecs * 1000 : -1);
		tap[r].fd = ep.fd;
		tap[r].owned = ep.owned;
	}
	if (is_listen(&spec[0])) {
		start_listening();
		if (bflag)
			start_broadcast();
	} else {
		struct conn *c;

		if ((c = conn_new()) == NULL)
			err(1, NULL);
		open_near(c);
		conn_open_target(c);
	}

	while (busy() && !stopped) {
		r = zc_loop_run(loop, -1);
		if (r == -ECANCELED)
			break;
		if (r < 0 && r != -ETIMEDOUT)
			errx(1, "event loop: %s", zc_strerror(r));
		if (r == 0)
			break;	/* nothing watched, nothing to wait for */
	}
	if (stopped) {
		struct conn *c;

		while ((c = LIST_FIRST(&conns)) != NULL) {
			c->failed = 1;
			conn_end(c);
		}
		if (bflow != NULL) {
			b_end(0);
			rval = 1;
		}
	}
	if (Pflag)
		progress_tick(1);
	stop_listening();
	accept_flush(1);
	free_loop();
	stdio_nonblock(1);
	for (r = 0; r < 2; r++)
		if (tap[r].owned && close(tap[r].fd) == -1 && !tap[r].gone) {
			warn("tap '%s'", esc(tap[r].text));
			rval = 1;
		}
	free(hp);
	return rval;
}
