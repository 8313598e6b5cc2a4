/*
 * The loop: idle timeouts, zc_loop_stop from a signal handler, the tick,
 * the run timeout, watches (accepting a connection and starting a flow
 * from the callback), limits, and callbacks that free or create flows.
 */
#include <sys/time.h>

#include <poll.h>
#include <sys/resource.h>
#include <termios.h>

#include "tutil.h"

static int done_calls, done_err;

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	done_calls++;
	done_err = err;
}

static void
on_done_free(struct zc_flow *f, int err, void *arg)
{
	done_calls++;
	done_err = err;
	zc_flow_free(f);
}

static double
elapsed(double t0)
{
	return now_s() - t0;
}

/* A flow from a pipe nobody writes to ends with -ETIMEDOUT. */
static void
test_idle(void)
{
	struct zc_flow_opts o = { .idle_ms = 150, .on_done = on_done_free };
	struct zc_loop *loop;
	struct zc_flow *f;
	int p[2], q[2], r, base = fd_count();
	double t0 = now_s(), t;

	loop = zc_loop_new();
	if (pipe2(p, O_CLOEXEC) || pipe2(q, O_CLOEXEC))
		exit(1);
	done_calls = 0;
	f = zc_flow_new(loop, p[0], &o);
	zc_flow_add_sink(f, q[1]);
	r = zc_loop_run(loop, -1);
	t = elapsed(t0);
	CHECK(r == 0);
	CHECK(done_calls == 1 && done_err == -ETIMEDOUT);
	if (t < 0.14 || t > 2)
		FAIL("idle timeout after %.3f s", t);
	zc_loop_free(loop);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	CHECK(fd_count() == base);
}

static struct zc_loop *sig_loop;

static void
on_alarm(int sig)
{
	zc_loop_stop(sig_loop);
}

static int ticks;

static void
on_tick(void *arg)
{
	ticks++;
}

/* zc_loop_stop from a signal handler; the tick runs meanwhile. */
static void
test_stop(void)
{
	struct itimerval it = { .it_value = { 0, 300000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct zc_loop *loop = zc_loop_new();
	struct zc_flow *f;
	int p[2], q[2], r;
	double t0, t;

	if (pipe2(p, O_CLOEXEC) || pipe2(q, O_CLOEXEC))
		exit(1);
	f = zc_flow_new(loop, p[0], NULL);
	zc_flow_add_sink(f, q[1]);
	sig_loop = loop;
	sigaction(SIGALRM, &sa, NULL);
	ticks = 0;
	zc_loop_set_tick(loop, 20, on_tick, NULL);
	t0 = now_s();
	setitimer(ITIMER_REAL, &it, NULL);
	r = zc_loop_run(loop, -1);
	t = elapsed(t0);
	CHECK(r == -ECANCELED);
	if (t < 0.29 || t > 2)
		FAIL("stopped after %.3f s", t);
	if (ticks < 8 || ticks > 16)
		FAIL("%d ticks in %.3f s", ticks, t);
	/* The flow is still there: run again, and time out this time. */
	zc_loop_set_tick(loop, 0, NULL, NULL);
	t0 = now_s();
	r = zc_loop_run(loop, 100);
	t = elapsed(t0);
	CHECK(r == -ETIMEDOUT);
	if (t < 0.099 || t > 2)
		FAIL("timed out after %.3f s", t);
	CHECK(ticks < 17);
	/* A stop before the run makes it return at once. */
	zc_loop_stop(loop);
	CHECK(zc_loop_run(loop, -1) == -ECANCELED);
	/* Bytes moving keep the run timeout away; then EOF ends it. */
	if (write(p[1], "hello", 5) != 5)
		exit(1);
	close(p[1]);
	r = zc_loop_run(loop, 100);
	CHECK(r == 0);
	CHECK(read(q[0], (char [8]){ 0 }, 8) == 5);
	zc_flow_free(f);
	zc_loop_free(loop);
	signal(SIGALRM, SIG_DFL);
	close(p[0]);
	close(q[0]);
	close(q[1]);
}

struct acc {
	int lfd;
	int out;
	int cfd;
	struct zc_flow *f;
};

static void
on_accept(struct zc_loop *loop, int fd, unsigned revents, void *arg)
{
	struct zc_flow_opts o = { .on_done = on_done };
	struct acc *a = arg;

	CHECK(revents & POLLIN);
	a->cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(a->cfd >= 0);
	CHECK(zc_loop_unwatch(loop, fd) == 0);
	CHECK(zc_loop_unwatch(loop, fd) == -ENOENT);
	a->f = zc_flow_new(loop, a->cfd, &o);
	CHECK(a->f != NULL);
	CHECK(zc_flow_add_sink(a->f, a->out) == 0);
}

/* A watch keeps the loop running; its callback starts a flow. */
static void
test_watch(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct zc_loop *loop;
	struct acc a = { 0 };
	struct zc_stats st;
	char path[300];
	int c, r, base = fd_count();
	pid_t pid;

	loop = zc_loop_new();
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(a.lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(a.lfd, 1) ||
	    getsockname(a.lfd, (struct sockaddr *)&sin, &len))
		exit(1);
	snprintf(path, sizeof(path), "%s/watch", tmpdir);
	a.out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(zc_loop_watch(loop, a.lfd, POLLIN, on_accept, &a) == 0);
	CHECK(zc_loop_watch(loop, a.lfd, POLLIN, on_accept, &a) == -EEXIST);
	if ((pid = fork()) == 0) {
		alarm(30);
		usleep(100000);
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(c, (struct sockaddr *)&sin, sizeof(sin)))
			_exit(1);
		_exit(write_stream(c, 77, 300000, 4096, 100) ? 1 : 0);
	}
	done_calls = 0;
	r = zc_loop_run(loop, 5000);
	CHECK(r == 0);
	CHECK(done_calls == 1 && done_err == 0);
	CHECK(reap(pid) == 0);
	zc_flow_sink_stats(a.f, 0, &st);
	CHECK(st.bytes == 300000);
	CHECK(check_file(path, 77, 300000) == 0);
	zc_loop_free(loop);
	close(a.cfd);
	close(a.out);
	close(a.lfd);
	CHECK(fd_count() == base);
}

/* With a limit the flow takes exactly that many bytes from the source:
 * what follows is still there to read. */
static void
test_limit(int kind, int nsinks, unsigned flags)
{
	struct zc_flow_opts o = {
		.limit = 100001, .on_done = on_done, .flags = flags,
	};
	struct zc_loop *loop = zc_loop_new();
	struct zc_stats st;
	struct zc_flow *f;
	unsigned char want[1000], got[1000];
	char path[300];
	int p[2], q[2], i, r, out[3];
	pid_t pid;

	if (kind == 0 ? pipe2(p, O_CLOEXEC) :
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
		exit(1);
	if ((pid = fork()) == 0) {
		close(p[0]);
		_exit(write_stream(p[1], 5, 101001, 0, 0) ? 1 : 0);
	}
	close(p[1]);
	f = zc_flow_new(loop, p[0], &o);
	for (i = 0; i < nsinks; i++) {
		snprintf(path, sizeof(path), "%s/limit%d", tmpdir, i);
		out[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    (i == 1 ? O_APPEND : 0), 0600);
		CHECK(zc_flow_add_sink(f, out[i]) == i);
	}
	done_calls = 0;
	CHECK(zc_loop_run(loop, 5000) == 0);
	CHECK(done_calls == 1 && done_err == 0);
	zc_flow_stats(f, &st);
	CHECK(st.bytes == 100001);
	for (i = 0; i < nsinks; i++) {
		r = zc_flow_sink_stats(f, i, &st);
		CHECK(r == 0 && st.bytes == 100001 && stats_exact(&st));
		snprintf(path, sizeof(path), "%s/limit%d", tmpdir, i);
		CHECK(check_file(path, 5, 100001) == 0);
		close(out[i]);
	}
	zc_flow_free(f);
	zc_loop_free(loop);
	/* The rest of the stream is still in the source. */
	gen(5, 100001, want, 1000);
	for (i = 0; i < 1000; i += r)
		if ((r = read(p[0], got + i, 1000 - i)) <= 0)
			break;
	CHECK(i == 1000 && memcmp(want, got, 1000) == 0);
	CHECK(read(p[0], got, 1) == 0);
	close(p[0]);
	CHECK(reap(pid) == 0);
	(void)q;
}

struct chain {
	struct zc_loop *loop;
	int src[3];
	int out;
	int step;
};

static void
chain_done(struct zc_flow *f, int err, void *arg)
{
	struct zc_flow_opts o = { .on_done = chain_done, .arg = arg };
	struct chain *c = arg;
	struct zc_flow *g;

	CHECK(err == 0);
	zc_flow_free(f);
	zc_flow_free(f);	/* a second free is harmless inside */
	if (++c->step == 3)
		return;
	g = zc_flow_new(c->loop, c->src[c->step], &o);
	CHECK(g != NULL);
	CHECK(zc_flow_add_sink(g, c->out) == 0);
}

/* on_done frees its flow and starts the next one. */
static void
test_chain(void)
{
	struct zc_flow_opts o = { .on_done = chain_done };
	struct chain c = { 0 };
	struct zc_flow *f;
	char path[300], buf[64];
	int p[2], i, fd, base = fd_count();

	c.loop = zc_loop_new();
	o.arg = &c;
	for (i = 0; i < 3; i++) {
		if (pipe2(p, O_CLOEXEC))
			exit(1);
		snprintf(buf, sizeof(buf), "part %d\n", i);
		if (write(p[1], buf, strlen(buf)) < 0)
			exit(1);
		close(p[1]);
		c.src[i] = p[0];
	}
	snprintf(path, sizeof(path), "%s/chain", tmpdir);
	c.out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = zc_flow_new(c.loop, c.src[0], &o);
	CHECK(zc_flow_add_sink(f, c.out) == 0);
	CHECK(zc_loop_run(c.loop, 5000) == 0);
	CHECK(c.step == 3);
	zc_loop_free(c.loop);
	close(c.out);
	for (i = 0; i < 3; i++)
		close(c.src[i]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	memset(buf, 0, sizeof(buf));
	CHECK(read(fd, buf, sizeof(buf)) == 21);
	CHECK(strcmp(buf, "part 0\npart 1\npart 2\n") == 0);
	close(fd);
	CHECK(fd_count() == base);
}

/* Odd uses: no sink, a sink too late, a flow freed before it ran, an
 * empty loop, a watch on a regular file. */
static void
test_misc(void)
{
	struct zc_flow_opts o = { .on_done = on_done };
	struct zc_loop *loop;
	struct zc_stats st;
	struct zc_flow *f;
	char path[300];
	int p[2], fd, base = fd_count();

	loop = zc_loop_new();
	CHECK(zc_loop_run(loop, -1) == 0);
	if (pipe2(p, O_CLOEXEC))
		exit(1);
	close(p[1]);
	done_calls = 0;
	f = zc_flow_new(loop, p[0], &o);
	CHECK(zc_loop_run(loop, 1000) == 0);
	CHECK(done_calls == 1 && done_err == -EINVAL);
	CHECK(zc_flow_add_sink(f, 1) == -EBUSY);
	CHECK(zc_flow_sink_stats(f, 0, &st) == -EINVAL);
	zc_flow_free(f);
	f = zc_flow_new(loop, p[0], &o);
	zc_flow_free(f);
	CHECK(zc_loop_run(loop, 1000) == 0);
	CHECK(zc_flow_new(loop, -1, &o) == NULL && errno == EBADF);
	snprintf(path, sizeof(path), "%s/misc", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(zc_loop_watch(loop, fd, POLLOUT, NULL, NULL) == -EINVAL);
	CHECK(zc_loop_watch(loop, fd, POLLOUT, on_accept, NULL) == -EPERM);
	/* A flow to a file from an exhausted pipe finishes at once. */
	f = zc_flow_new(loop, p[0], &o);
	CHECK(zc_flow_add_sink(f, fd) == 0);
	done_calls = 0;
	CHECK(zc_loop_run(loop, 1000) == 0);
	CHECK(done_calls == 1 && done_err == 0);
	zc_loop_free(loop);
	close(fd);
	close(p[0]);
	CHECK(fd_count() == base);
}

/* Opens a pseudo-terminal in raw mode: *m the master, *s the slave. */
static void
open_pty(int *m, int *s)
{
	struct termios t;

	if ((*m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 ||
	    grantpt(*m) || unlockpt(*m) ||
	    (*s = open(ptsname(*m), O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		perror("pty");
		exit(1);
	}
	tcgetattr(*s, &t);
	cfmakeraw(&t);
	tcsetattr(*s, TCSANOW, &t);
}

/* Reads exactly size bytes of stream seed from fd; exits 0 when they
 * match. */
static pid_t
spawn_exact(int fd, uint64_t seed, uint64_t size)
{
	unsigned char buf[4096], want[4096];
	uint64_t off = 0;
	ssize_t n;
	pid_t pid;

	if ((pid = fork()) != 0)
		return pid;
	alarm(30);
	fd = close_others(fd);
	while (off < size) {
		n = read(fd, buf, size - off < sizeof(buf) ? size - off :
		    sizeof(buf));
		if (n <= 0)
			_exit(3);
		gen(seed, off, want, n);
		if (memcmp(buf, want, n))
			_exit(1);
		off += n;
	}
	_exit(0);
}

/* A blocking terminal as a sink and as a source (ended by a limit),
 * next to a pipe: nothing blocks the loop for good, bytes are exact. */
static void
test_tty(void)
{
	struct zc_flow_opts o = { .on_done = on_done };
	struct zc_loop *loop;
	struct zc_flow *f;
	struct zc_stats st;
	int m, s, keep, p[2], q[2], base = fd_count();
	pid_t w, c, k;

	/* pipe -> terminal and pipe */
	open_pty(&m, &s);
	if (pipe2(p, O_CLOEXEC) || pipe2(q, O_CLOEXEC))
		exit(1);
	w = spawn_writer(p[1], 31, 200000, 0, 0);
	c = spawn_exact(m, 31, 200000);
	close(m);
	loop = zc_loop_new();
	f = zc_flow_new(loop, p[0], &o);
	CHECK(zc_flow_add_sink(f, s) == 0);
	CHECK(zc_flow_add_sink(f, q[1]) == 1);
	k = spawn_checker(q[0], 31, 200000, 0, 0);
	done_calls = 0;
	CHECK(zc_loop_run(loop, 10000) == 0);
	CHECK(done_calls == 1 && done_err == 0);
	zc_flow_sink_stats(f, 0, &st);
	CHECK(st.bytes == 200000 && stats_exact(&st));
	zc_loop_free(loop);
	close(p[0]);
	close(q[1]);
	close(s);
	CHECK(reap(w) == 0);
	CHECK(reap(c) == 0);
	CHECK(reap(k) == 0);

	/* terminal -> pipe, ended by the limit. The master stays open here
	 * until the end: its last close hangs the terminal up, and the
	 * kernel drops what the reader has not read yet. */
	open_pty(&m, &s);
	if (pipe2(p, O_CLOEXEC) || (keep = dup(m)) == -1)
		exit(1);
	w = spawn_writer(m, 32, 100000, 1000, 200);
	c = spawn_exact(p[0], 32, 100000);
	close(p[0]);
	o.limit = 100000;
	o.idle_ms = 5000;
	loop = zc_loop_new();
	f = zc_flow_new(loop, s, &o);
	CHECK(zc_flow_add_sink(f, p[1]) == 0);
	done_calls = 0;
	CHECK(zc_loop_run(loop, 10000) == 0);
	CHECK(done_calls == 1 && done_err == 0);
	zc_flow_stats(f, &st);
	CHECK(st.bytes == 100000 && stats_exact(&st));
	zc_loop_free(loop);
	close(p[1]);
	CHECK(reap(c) == 0);
	close(s);
	close(keep);
	CHECK(reap(w) == 0);
	CHECK(fd_count() == base);
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A slow sink next to a fast one costs little CPU: the loop waits in
 * epoll, it does not spin. */
static void
test_nospin(void)
{
	/* Pipes of 64 KiB: a grown one would hold the whole stream. */
	struct zc_flow_opts o = { .flags = ZC_FLOW_NO_GROW,
	    .on_done = on_done };
	struct zc_loop *loop;
	struct zc_flow *f;
	int p[2], q[2], r[2], base = fd_count();
	double t0, c0, t, c;
	pid_t w, k1, k2;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) ||
	    pipe2(q, O_CLOEXEC) || pipe2(r, O_CLOEXEC))
		exit(1);
	w = spawn_writer(p[1], 41, 1 << 20, 0, 0);
	k1 = spawn_checker(q[0], 41, 1 << 20, 4096, 2000);
	k2 = spawn_checker(r[0], 41, 1 << 20, 0, 0);
	loop = zc_loop_new();
	f = zc_flow_new(loop, p[0], &o);
	zc_flow_add_sink(f, q[1]);
	zc_flow_add_sink(f, r[1]);
	t0 = now_s();
	c0 = cpu_s();
	done_calls = 0;
	CHECK(zc_loop_run(loop, 10000) == 0);
	t = now_s() - t0;
	c = cpu_s() - c0;
	CHECK(done_calls == 1 && done_err == 0);
	if (t < 0.4 || c > t * 0.25)
		FAIL("%.3f s of CPU in %.3f s", c, t);
	zc_loop_free(loop);
	close(p[0]);
	close(q[1]);
	close(r[1]);
	CHECK(reap(w) == 0);
	CHECK(reap(k1) == 0);
	CHECK(reap(k2) == 0);
	CHECK(fd_count() == base);
}

int
main(void)
{
	int base;

	signal(SIGPIPE, SIG_IGN);
	make_tmpdir();
	base = fd_count();
	test_idle();
	test_stop();
	test_watch();
	test_limit(0, 1, 0);
	test_limit(0, 3, 0);
	test_limit(1, 1, 0);
	test_limit(1, 2, 0);
	test_limit(0, 2, ZC_FLOW_NO_SPLICE);
	test_limit(1, 1, ZC_FLOW_NO_SPLICE);
	test_chain();
	test_misc();
	test_tty();
	test_nospin();
	CHECK(fd_count() == base);
	remove_tmpdir();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
