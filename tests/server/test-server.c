/*
 * test-server.c: the server layer (zc_server_*, zc_connect_*) with real
 * sockets on 127.0.0.1, ::1 and unix sockets in a temporary directory:
 * many accepts, the cap with the backlog and with ZC_SERVER_REFUSE, the
 * pause on EMFILE and the resume, freeing from a callback; connects that
 * succeed, are refused, go on to the next address, time out (TCP and a
 * full unix backlog), wait for a full unix backlog to drain, and are
 * cancelled. Descriptor counts go back to their baseline.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zerocopy.h"

#define FAIL(...) do {							\
	fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);			\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	failures++;							\
} while (0)

#define CHECK(c) do {							\
	if (!(c))							\
		FAIL("check failed: %s", #c);				\
} while (0)

static int failures;
static char tmpdir[] = "/tmp/zc-server.XXXXXX";

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* A listening socket for text ("listen:127.0.0.1:0", "unix-listen:P")
 * with that backlog, its port in *port (TCP). */
static int
listen_on(const char *text, int backlog, char *port, size_t psize)
{
	struct zc_spec sp;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	if (zc_spec_parse(&sp, text, NULL) != 0)
		return -1;
	if ((fd = zc_listen(&sp, ZC_OPEN_NONBLOCK, backlog)) < 0)
		return fd;
	/* zc_listen takes 0 as "the default": listen again for 0. */
	if (backlog == 0 && listen(fd, 0) == -1) {
		close(fd);
		return -errno;
	}
	if (port != NULL && getsockname(fd, (void *)&ss, &len) == 0 &&
	    ss.ss_family != AF_UNIX)
		snprintf(port, psize, "%d", ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port));
	return fd;
}

/* A blocking client connected (or queued) to text; -errno on failure. */
static int
client(const char *text)
{
	struct zc_spec sp;
	struct zc_endpoint ep;
	int r;

	if (zc_spec_parse(&sp, text, NULL) != 0)
		return -EINVAL;
	r = zc_endpoint_open(&ep, &sp, ZC_OPEN_READ | ZC_OPEN_WRITE, 2000);
	return r < 0 ? r : ep.fd;
}

/* ------------------------------------------------------------------ */
/* Servers                                                            */
/* ------------------------------------------------------------------ */

#define MAXC 256

struct sv_state {
	struct zc_loop *loop;
	struct zc_server *sv;
	int fds[MAXC];
	int nacc;		/* on_accept calls */
	int keep;		/* keep the fds (else close, done) */
	int stop_at;		/* stop the loop at this many accepts */
	int ev[4];		/* on_event calls by event */
	int last_err;
	int resumed_before;	/* accepts seen when RESUMED came */
	int free_in_cb;		/* zc_server_free from on_accept */
};

static void
on_accept(struct zc_server *sv, int fd, void *arg)
{
	struct sv_state *s = arg;

	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	if (s->nacc < MAXC)
		s->fds[s->nacc] = fd;
	s->nacc++;
	if (!s->keep) {
		close(fd);
		zc_server_done(sv);
	}
	if (s->free_in_cb) {
		zc_server_free(sv);
		s->sv = NULL;
	}
	if (s->stop_at > 0 && s->nacc >= s->stop_at)
		zc_loop_stop(s->loop);
}

static void
on_event(struct zc_server *sv, enum zc_server_event ev, int err, int fd,
    void *arg)
{
	struct sv_state *s = arg;

	s->ev[ev]++;
	s->last_err = err;
	if (ev == ZC_SERVER_EV_REFUSED)
		CHECK(fd >= 0);
	else
		CHECK(fd == -1);
	if (ev == ZC_SERVER_EV_RESUMED)
		s->resumed_before = s->nacc;
}

static void
sv_setup(struct sv_state *s, struct zc_loop *loop, int lfd, int max,
    unsigned flags)
{
	struct zc_server_opts o;

	memset(&o, 0, sizeof(o));
	o.flags = flags;
	o.open_flags = ZC_OPEN_NONBLOCK;
	o.max_conns = max;
	o.on_accept = on_accept;
	o.on_event = on_event;
	o.arg = s;
	s->loop = loop;
	s->sv = zc_server_new(loop, lfd, &o);
	CHECK(s->sv != NULL);
}

/* n clients of text, all accepted (one at a time in the kernel's
 * backlog, many per readiness). */
static void
test_accept_many(const char *ltext, const char *ctext_pre, int n)
{
	int base = count_fds();
	struct sv_state s = { 0 };
	struct zc_loop *loop = zc_loop_new();
	char port[16] = "", ctext[256];
	int lfd, cl[64], i, r;

	lfd = listen_on(ltext, 128, port, sizeof(port));
	if (lfd < 0) {
		FAIL("listen %s: %s", ltext, zc_strerror(lfd));
		zc_loop_free(loop);
		return;
	}
	snprintf(ctext, sizeof(ctext), "%s%s", ctext_pre, port);
	sv_setup(&s, loop, lfd, 0, 0);
	s.stop_at = n;
	for (i = 0; i < n; i++)
		CHECK((cl[i] = client(ctext)) >= 0);
	r = zc_loop_run(loop, 5000);
	CHECK(r == -ECANCELED);
	CHECK(s.nacc == n);
	CHECK(zc_server_count(s.sv) == 0);
	CHECK(s.ev[ZC_SERVER_EV_FAILED] == 0);
	zc_server_free(s.sv);
	/* Nothing watched any more: the loop has nothing to run. */
	CHECK(zc_loop_run(loop, 1000) == 0);
	for (i = 0; i < n; i++)
		if (cl[i] >= 0)
			close(cl[i]);
	close(lfd);
	zc_loop_free(loop);
	CHECK(count_fds() == base);
}

/* The cap: max at once, the rest in the backlog until one is done. */
static void
test_cap_backlog(void)
{
	int base = count_fds();
	struct sv_state s = { 0 };
	struct zc_loop *loop = zc_loop_new();
	char port[16], ctext[64];
	int lfd, cl[5], i;

	lfd = listen_on("listen:127.0.0.1:0", 16, port, sizeof(port));
	CHECK(lfd >= 0);
	snprintf(ctext, sizeof(ctext), "127.0.0.1:%s", port);
	sv_setup(&s, loop, lfd, 2, 0);
	s.keep = 1;
	for (i = 0; i < 5; i++)
		CHECK((cl[i] = client(ctext)) >= 0);
	/* At the cap nothing is watched: the loop has nothing to run. */
	CHECK(zc_loop_run(loop, 300) == 0);
	CHECK(s.nacc == 2);
	CHECK(zc_server_count(s.sv) == 2);
	/* One is over: exactly one more comes. */
	close(s.fds[0]);
	zc_server_done(s.sv);
	CHECK(zc_loop_run(loop, 300) == 0);
	CHECK(s.nacc == 3);
	CHECK(zc_server_count(s.sv) == 2);
	/* Two more done: the last two come. */
	close(s.fds[1]);
	close(s.fds[2]);
	zc_server_done(s.sv);
	zc_server_done(s.sv);
	CHECK(zc_loop_run(loop, 300) == 0);
	CHECK(s.nacc == 5);
	CHECK(s.ev[ZC_SERVER_EV_REFUSED] == 0);
	for (i = 3; i < s.nacc && i < 5; i++)
		close(s.fds[i]);
	for (i = 0; i < 5; i++)
		close(cl[i]);
	zc_server_free(s.sv);
	close(lfd);
	zc_loop_free(loop);
	CHECK(count_fds() == base);
}

/* ZC_SERVER_REFUSE: over the cap, accepted and closed at once. */
static void
test_cap_refuse(const char *ltext, const char *ctext_pre)
{
	int base = count_fds();
	struct sv_state s = { 0 };
	struct zc_loop *loop = zc_loop_new();
	char port[16] = "", ctext[256], c;
	int lfd, cl[6], i, eof = 0;

	lfd = listen_on(ltext, 16, port, sizeof(port));
	CHECK(lfd >= 0);
	snprintf(ctext, sizeof(ctext), "%s%s", ctext_pre, port);
	sv_setup(&s, loop, lfd, 2, ZC_SERVER_REFUSE);
	s.keep = 1;
	for (i = 0; i < 6; i++)
		CHECK((cl[i] = client(ctext)) >= 0);
	CHECK(zc_loop_run(loop, 300) == -ETIMEDOUT);
	CHECK(s.nacc == 2);
	CHECK(s.ev[ZC_SERVER_EV_REFUSED] == 4);
	/* The refused ones see their end of file (or a reset). */
	for (i = 2; i < 6; i++) {
		struct timeval tv = { 2, 0 };
		ssize_t n;

		setsockopt(cl[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = read(cl[i], &c, 1);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			eof++;
	}
	CHECK(eof == 4);
	/* The first two are still served. */
	CHECK(write(cl[0], "x", 1) == 1);
	CHECK(read(s.fds[0], &c, 1) == 1 && c == 'x');
	/* After one is done, the next one is accepted, not refused. */
	close(s.fds[0]);
	zc_server_done(s.sv);
	i = client(ctext);
	CHECK(i >= 0);
	CHECK(zc_loop_run(loop, 300) == -ETIMEDOUT);
	CHECK(s.nacc == 3);
	CHECK(s.ev[ZC_SERVER_EV_REFUSED] == 4);
	close(i);
	close(s.fds[1]);
	close(s.fds[2]);
	for (i = 0; i < 6; i++)
		close(cl[i]);
	zc_server_free(s.sv);
	close(lfd);
	zc_loop_free(loop);
	CHECK(count_fds() == base);
}

/* EMFILE: the server pauses (PAUSED, the connections stay in the
 * backlog), tries again by itself, and resumes once descriptors are
 * free (RESUMED once, before the first connection it then takes). */
static void
test_emfile(void)
{
	int base = count_fds();
	struct sv_state s = { 0 };
	struct zc_loop *loop = zc_loop_new();
	struct rlimit old, rl;
	char port[16], ctext[64];
	int lfd, cl[3], fill[64], nfill = 0, i, r;
	double t0;

	lfd = listen_on("listen:127.0.0.1:0", 16, port, sizeof(port));
	CHECK(lfd >= 0);
	snprintf(ctext, sizeof(ctext), "127.0.0.1:%s", port);
	sv_setup(&s, loop, lfd, 0, 0);
	s.keep = 1;
	for (i = 0; i < 3; i++)
		CHECK((cl[i] = client(ctext)) >= 0);
	getrlimit(RLIMIT_NOFILE, &old);
	rl = old;
	rl.rlim_cur = count_fds() + 8 + 3;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	while (nfill < 64 && (fill[nfill] = dup(0)) >= 0)
		nfill++;
	CHECK(nfill < 64 && errno == EMFILE);
	t0 = now_s();
	r = zc_loop_run(loop, 350);
	CHECK(r == -ETIMEDOUT);
	CHECK(s.nacc == 0);
	/* Told at the pause and at each retry that found it still short:
	 * about one every 100 ms. */
	CHECK(s.ev[ZC_SERVER_EV_PAUSED] >= 2);
	CHECK(s.ev[ZC_SERVER_EV_PAUSED] <= 1 + (int)((now_s() - t0) * 10) + 1);
	CHECK(s.last_err == -EMFILE);
	CHECK(s.ev[ZC_SERVER_EV_RESUMED] == 0);
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	s.stop_at = 3;
	r = zc_loop_run(loop, 2000);
	CHECK(r == -ECANCELED);
	CHECK(s.nacc == 3);
	CHECK(s.ev[ZC_SERVER_EV_RESUMED] == 1);
	CHECK(s.resumed_before == 0);
	CHECK(s.ev[ZC_SERVER_EV_FAILED] == 0);
	for (i = 0; i < 3; i++) {
		close(s.fds[i]);
		close(cl[i]);
	}
	zc_server_free(s.sv);
	close(lfd);
	zc_loop_free(loop);
	CHECK(count_fds() == base);
}

/* Freed from inside on_accept (serve one connection): the backlog's
 * other connections are left alone. */
static void
test_free_in_callback(void)
{
	int base = count_fds();
	struct sv_state s = { 0 };
	struct zc_loop *loop = zc_loop_new();
	char port[16], ctext[64];
	int lfd, cl[3], i;

	lfd = listen_on("listen:127.0.0.1:0", 16, port, sizeof(port));
	snprintf(ctext, sizeof(ctext), "127.0.0.1:%s", port);
	sv_setup(&s, loop, lfd, 0, 0);
	s.free_in_cb = 1;
	for (i = 0; i < 3; i++)
		CHECK((cl[i] = client(ctext)) >= 0);
	CHECK(zc_loop_run(loop, 1000) == 0);
	CHECK(s.nacc == 1);
	CHECK(s.sv == NULL);
	/* Two are still in the backlog. */
	for (i = 0; i < 2; i++) {
		int fd = zc_accept(lfd, 0, 0);

		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	i = zc_accept(lfd, 0, 0);
	CHECK(i == -EAGAIN || i == -ETIMEDOUT);
	for (i = 0; i < 3; i++)
		close(cl[i]);
	close(lfd);
	zc_loop_free(loop);
	CHECK(count_fds() == base);
}

/* A listener whose socket is not listening: accept fails for good. */
static void
test_failed(void)
{
	struct sv_state s = { 0 };
	struct zc_loop *loop = zc_loop_new();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sv_setup(&s, loop, fd, 0, 0);
	/* A socket that never listened is readable? No: it reports
	 * POLLHUP, which wakes the watch; accept gives EINVAL. */
	CHECK(zc_loop_run(loop, 1000) == 0);
	CHECK(s.ev[ZC_SERVER_EV_FAILED] == 1);
	CHECK(s.last_err == -EINVAL);
	zc_server_free(s.sv);
	close(fd);
	zc_loop_free(loop);
}

/* ------------------------------------------------------------------ */
/* Connects                                                           */
/* ------------------------------------------------------------------ */

struct cn_state {
	struct zc_loop *loop;
	int calls;
	int fd;
	double at;
};

static void
on_connect(struct zc_connect *c, int fd, void *arg)
{
	struct cn_state *s = arg;

	s->calls++;
	s->fd = fd;
	s->at = now_s();
	zc_loop_stop(s->loop);
}

/* Connects to text; returns what the callback got (fd or -errno), and
 * in *secs how long it took. */
static int
connect_to(const char *text, const struct zc_spec *src, int timeout_ms,
    double *secs)
{
	struct zc_loop *loop = zc_loop_new();
	struct cn_state s = { loop, 0, -1, 0 };
	struct zc_connect *c;
	struct zc_spec sp;
	double t0 = now_s();

	if (zc_spec_parse(&sp, text, NULL) != 0) {
		FAIL("spec %s", text);
		return -EINVAL;
	}
	c = zc_connect_start(loop, &sp, src, 0, timeout_ms, on_connect, &s);
	CHECK(c != NULL);
	/* Never from inside zc_connect_start. */
	CHECK(s.calls == 0);
	CHECK(zc_loop_run(loop, 10000) == -ECANCELED);
	CHECK(s.calls == 1);
	CHECK(zc_loop_run(loop, 200) == 0);	/* nothing left behind */
	CHECK(s.calls == 1);
	zc_loop_free(loop);
	if (secs != NULL)
		*secs = s.at - t0;
	return s.fd;
}

static int
peer_port(int fd, int local)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if ((local ? getsockname(fd, (void *)&ss, &len) :
	    getpeername(fd, (void *)&ss, &len)) == -1)
		return -1;
	return ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void
test_connect_ok(const char *ltext, const char *pre)
{
	int base = count_fds();
	char port[16] = "", text[256], c;
	int lfd, fd, a;

	lfd = listen_on(ltext, 16, port, sizeof(port));
	CHECK(lfd >= 0);
	snprintf(text, sizeof(text), "%s%s", pre, port);
	fd = connect_to(text, NULL, 2000, NULL);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK((a = zc_accept(lfd, 0, 1000)) >= 0);
	CHECK(write(fd, "y", 1) == 1);
	CHECK(read(a, &c, 1) == 1 && c == 'y');
	close(a);
	close(fd);
	close(lfd);
	CHECK(count_fds() == base);
}

/* A port nobody listens on. */
static int
free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	bind(fd, (void *)&ss, family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	getsockname(fd, (void *)&ss, &len);
	port = peer_port(fd, 1);
	close(fd);
	return port;
}

static void
test_connect_refused(void)
{
	char text[128];
	int base = count_fds();

	snprintf(text, sizeof(text), "127.0.0.1:%d", free_port(AF_INET));
	CHECK(connect_to(text, NULL, 2000, NULL) == -ECONNREFUSED);
	snprintf(text, sizeof(text), "[::1]:%d", free_port(AF_INET6));
	CHECK(connect_to(text, NULL, 2000, NULL) == -ECONNREFUSED);
	snprintf(text, sizeof(text), "unix:%s/nobody.sock", tmpdir);
	CHECK(connect_to(text, NULL, 2000, NULL) == -ENOENT);
	/* A name that does not resolve: the resolver's error, by callback. */
	CHECK(connect_to("no-such-host.invalid:80", NULL, 2000, NULL) <=
	    -ZC_EAI_BASE);
	CHECK(count_fds() == base);
}

/* "localhost" that resolves to two addresses of two families, with only
 * the second one listening: the connect goes on to the next address. */
static void
test_connect_next(void)
{
	struct addrinfo hints, *ai;
	char port[16], text[64];
	int lfd, fd, a, second;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo("localhost", "80", &hints, &ai) != 0) {
		printf("# skip next address: localhost does not resolve\n");
		return;
	}
	if (ai->ai_next == NULL || ai->ai_next->ai_family == ai->ai_family) {
		printf("# skip next address: localhost is not ::1 and "
		    "127.0.0.1\n");
		freeaddrinfo(ai);
		return;
	}
	second = ai->ai_next->ai_family;
	freeaddrinfo(ai);
	lfd = listen_on(second == AF_INET ? "listen:127.0.0.1:0" :
	    "listen:[::1]:0", 16, port, sizeof(port));
	CHECK(lfd >= 0);
	/* Nothing may listen on the first one: the port is taken there
	 * only by chance, and then the check says nothing. */
	snprintf(text, sizeof(text), "localhost:%s", port);
	fd = connect_to(text, NULL, 2000, NULL);
	CHECK(fd >= 0);
	CHECK((a = zc_accept(lfd, 0, 1000)) >= 0);
	if (a >= 0)
		close(a);
	if (fd >= 0)
		close(fd);
	close(lfd);
	printf("# next address: %s refused, %s connected\n",
	    second == AF_INET ? "::1" : "127.0.0.1",
	    second == AF_INET ? "127.0.0.1" : "::1");
}

/* From a chosen source port. */
static void
test_connect_source(void)
{
	struct zc_spec src;
	char port[16], text[64], stext[64];
	int lfd, fd, a, sport = free_port(AF_INET);

	lfd = listen_on("listen:127.0.0.1:0", 16, port, sizeof(port));
	snprintf(text, sizeof(text), "127.0.0.1:%s", port);
	snprintf(stext, sizeof(stext), "listen:127.0.0.1:%d", sport);
	CHECK(zc_spec_parse(&src, stext, NULL) == 0);
	fd = connect_to(text, &src, 2000, NULL);
	CHECK(fd >= 0);
	CHECK(peer_port(fd, 1) == sport);
	CHECK((a = zc_accept(lfd, 0, 1000)) >= 0);
	close(a);
	close(fd);
	close(lfd);
}

/* A TCP listener with backlog 0 that never accepts, filled first: the
 * connect times out; so does one to a full unix backlog (EAGAIN, tried
 * again until the time is up). */
static void
test_connect_timeout(void)
{
	int base = count_fds();
	char port[16], text[256];
	int lfd, fill[4], i;
	double secs;

	lfd = listen_on("listen:127.0.0.1:0", 0, port, sizeof(port));
	snprintf(text, sizeof(text), "127.0.0.1:%s", port);
	for (i = 0; i < 4; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		sin.sin_port = htons(atoi(port));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		connect(fill[i], (void *)&sin, sizeof(sin));
	}
	usleep(100000);
	i = connect_to(text, NULL, 400, &secs);
	printf("# tcp connect timed out after %.3f s\n", secs);
	CHECK(i == -ETIMEDOUT);
	CHECK(secs >= 0.35 && secs < 2);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);

	snprintf(text, sizeof(text), "unix-listen:%s/full.sock", tmpdir);
	lfd = listen_on(text, 0, NULL, 0);
	CHECK(lfd >= 0);
	snprintf(text, sizeof(text), "unix:%s/full.sock", tmpdir);
	for (i = 0; i < 4; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/full.sock",
		    tmpdir);
		fill[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		connect(fill[i], (void *)&sun, sizeof(sun));
	}
	i = connect_to(text, NULL, 300, &secs);
	printf("# unix connect timed out after %.3f s\n", secs);
	CHECK(i == -ETIMEDOUT);
	CHECK(secs >= 0.25 && secs < 2);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	snprintf(text, sizeof(text), "%s/full.sock", tmpdir);
	unlink(text);
	CHECK(count_fds() == base);
}

/* A full unix backlog that drains: the connect tried again gets in. */
struct drain {
	int lfd;
	int done;
};

static void
drain_tick(void *arg)
{
	struct drain *d = arg;
	int fd;

	if (d->done++ == 2)
		while ((fd = zc_accept(d->lfd, 0, 0)) >= 0)
			close(fd);
}

static void
test_connect_unix_retry(void)
{
	int base = count_fds();
	struct zc_loop *loop = zc_loop_new();
	struct cn_state s = { loop, 0, -1, 0 };
	struct drain d = { -1, 0 };
	struct zc_spec sp;
	char text[256];
	int fill[4], i;

	snprintf(text, sizeof(text), "unix-listen:%s/drain.sock", tmpdir);
	d.lfd = listen_on(text, 0, NULL, 0);
	for (i = 0; i < 4; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/drain.sock",
		    tmpdir);
		fill[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		connect(fill[i], (void *)&sun, sizeof(sun));
	}
	snprintf(text, sizeof(text), "unix:%s/drain.sock", tmpdir);
	zc_spec_parse(&sp, text, NULL);
	zc_loop_set_tick(loop, 100, drain_tick, &d);
	CHECK(zc_connect_start(loop, &sp, NULL, 0, 3000, on_connect, &s) !=
	    NULL);
	CHECK(zc_loop_run(loop, 5000) == -ECANCELED);
	CHECK(s.calls == 1);
	CHECK(s.fd >= 0);
	CHECK(d.done >= 3);
	if (s.fd >= 0)
		close(s.fd);
	zc_loop_free(loop);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(d.lfd);
	snprintf(text, sizeof(text), "%s/drain.sock", tmpdir);
	unlink(text);
	CHECK(count_fds() == base);
}

/* Cancelled before it calls back: no callback, no descriptor left. */
static void
test_cancel(void)
{
	struct zc_loop *loop = zc_loop_new();
	struct cn_state s = { loop, 0, -1, 0 };
	struct zc_connect *c;
	struct zc_spec sp;
	char port[16], text[64];
	int lfd, fill[4], i, base;

	lfd = listen_on("listen:127.0.0.1:0", 0, port, sizeof(port));
	for (i = 0; i < 4; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		sin.sin_port = htons(atoi(port));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		connect(fill[i], (void *)&sin, sizeof(sin));
	}
	usleep(100000);
	base = count_fds();
	snprintf(text, sizeof(text), "127.0.0.1:%s", port);
	zc_spec_parse(&sp, text, NULL);
	/* At once, before the first try. */
	c = zc_connect_start(loop, &sp, NULL, 0, 200, on_connect, &s);
	CHECK(c != NULL);
	zc_connect_cancel(c);
	CHECK(zc_loop_run(loop, 500) == 0);
	/* While it waits on its socket. */
	c = zc_connect_start(loop, &sp, NULL, 0, 300, on_connect, &s);
	CHECK(zc_loop_run(loop, 100) == -ETIMEDOUT);
	CHECK(count_fds() == base + 1);
	zc_connect_cancel(c);
	CHECK(zc_loop_run(loop, 500) == 0);
	CHECK(s.calls == 0);
	CHECK(count_fds() == base);
	/* Specs it cannot connect to. */
	zc_spec_parse(&sp, "listen:0", NULL);
	errno = 0;
	CHECK(zc_connect_start(loop, &sp, NULL, 0, 100, on_connect, &s) ==
	    NULL && errno == EINVAL);
	zc_loop_free(loop);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

int
main(void)
{
	char ltext[256], ctext[256];
	int v6;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	v6 = listen_on("listen:[::1]:0", 1, NULL, 0);
	if (v6 >= 0)
		close(v6);

	test_accept_many("listen:127.0.0.1:0", "127.0.0.1:", 50);
	if (v6 >= 0)
		test_accept_many("listen:[::1]:0", "[::1]:", 50);
	else
		printf("# skip ::1: no IPv6 loopback\n");
	snprintf(ltext, sizeof(ltext), "unix-listen:%s/many.sock", tmpdir);
	snprintf(ctext, sizeof(ctext), "unix:%s/many.sock", tmpdir);
	test_accept_many(ltext, ctext, 50);
	test_cap_backlog();
	test_cap_refuse("listen:127.0.0.1:0", "127.0.0.1:");
	snprintf(ltext, sizeof(ltext), "unix-listen:%s/refuse.sock", tmpdir);
	snprintf(ctext, sizeof(ctext), "unix:%s/refuse.sock", tmpdir);
	test_cap_refuse(ltext, ctext);
	test_emfile();
	test_free_in_callback();
	test_failed();

	test_connect_ok("listen:127.0.0.1:0", "127.0.0.1:");
	if (v6 >= 0)
		test_connect_ok("listen:[::1]:0", "[::1]:");
	snprintf(ltext, sizeof(ltext), "unix-listen:%s/ok.sock", tmpdir);
	snprintf(ctext, sizeof(ctext), "unix:%s/ok.sock", tmpdir);
	test_connect_ok(ltext, ctext);
	test_connect_refused();
	test_connect_next();
	test_connect_source();
	test_connect_timeout();
	test_connect_unix_retry();
	test_cancel();

	snprintf(ltext, sizeof(ltext), "rm -rf '%s'", tmpdir);
	if (system(ltext) != 0)
		failures++;
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
