/*
 * What zcat-net does: two flows in opposite directions between two
 * sockets, each half-closed by the caller's on_done with shutdown; and
 * 50 single-sink socket -> socket flows at once in one loop.
 */
#include <sys/ioctl.h>

#include <linux/sockios.h>

#include "tutil.h"

struct half {
	int fd;			/* where on_done shuts down writing */
	int done_calls;
	int done_err;
};

static void
half_done(struct zc_flow *f, int err, void *arg)
{
	struct half *h = arg;

	h->done_calls++;
	h->done_err = err;
	if (shutdown(h->fd, SHUT_WR) == -1)
		FAIL("shutdown: %s", strerror(errno));
}

/* A peer on fd: one child writes stream wseed and half-closes, another
 * checks that stream rseed comes back. */
static void
spawn_peer(int fd, uint64_t wseed, uint64_t wsize, uint64_t rseed,
    uint64_t rsize, pid_t *pw, pid_t *pr)
{
	int d;

	if ((d = dup(fd)) == -1)
		exit(1);
	if ((*pw = fork()) == 0) {
		alarm(60);
		d = close_others(d);
		if (write_stream(d, wseed, wsize, 0, 0) == -1)
			_exit(1);
		_exit(shutdown(d, SHUT_WR) == -1 ? 1 : 0);
	}
	close(d);
	*pr = spawn_checker(fd, rseed, rsize, 0, 0);
}

static void
duplex(int tcp, uint64_t s1, uint64_t s2, unsigned flags)
{
	struct half ha = { 0 }, hb = { 0 };
	struct zc_flow_opts oa = {
		.flags = flags, .on_done = half_done, .arg = &ha,
	};
	struct zc_flow_opts ob = {
		.flags = flags, .on_done = half_done, .arg = &hb,
	};
	struct zc_loop *loop;
	struct zc_flow *a, *b;
	struct zc_stats st;
	int lp[2], rp[2], base, r;
	pid_t p[4];

	base = fd_count();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, lp) == -1)
		exit(1);
	if (tcp ? tcp_pair(&rp[0], &rp[1]) == -1 :
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rp) == -1)
		exit(1);
	/* local peer sends stream 1, expects stream 2; remote the reverse */
	spawn_peer(lp[1], 1, s1, 2, s2, &p[0], &p[1]);
	spawn_peer(rp[1], 2, s2, 1, s1, &p[2], &p[3]);
	loop = zc_loop_new();
	ha.fd = rp[0];
	hb.fd = lp[0];
	a = zc_flow_new(loop, lp[0], &oa);
	b = zc_flow_new(loop, rp[0], &ob);
	if (!loop || !a || !b || zc_flow_add_sink(a, rp[0]) != 0 ||
	    zc_flow_add_sink(b, lp[0]) != 0)
		exit(1);
	if ((r = zc_loop_run(loop, 30000)) != 0)
		FAIL("zc_loop_run: %s", strerror(-r));
	if (ha.done_calls != 1 || ha.done_err || hb.done_calls != 1 ||
	    hb.done_err)
		FAIL("on_done: %d/%d %d/%d", ha.done_calls, ha.done_err,
		    hb.done_calls, hb.done_err);
	/* Both sinks are sockets: spliced into with ZC_FLOW_SPLICE_TCP,
	 * written from a buffer with ZC_FLOW_COPY_OUT or
	 * ZC_FLOW_NO_SPLICE, by the measured choice otherwise. */
	zc_flow_sink_stats(a, 0, &st);
	CHECK(st.bytes == s1 && stats_exact(&st));
	if (flags & ZC_FLOW_SPLICE_TCP)
		CHECK(st.by_method[ZC_METHOD_SPLICE_PIPE] == s1);
	if (flags & (ZC_FLOW_COPY_OUT | ZC_FLOW_NO_SPLICE))
		CHECK(st.by_method[ZC_METHOD_READ_WRITE] == s1);
	zc_flow_sink_stats(b, 0, &st);
	CHECK(st.bytes == s2 && stats_exact(&st));
	if (flags & ZC_FLOW_SPLICE_TCP)
		CHECK(st.by_method[ZC_METHOD_SPLICE_PIPE] == s2);
	if (flags & (ZC_FLOW_COPY_OUT | ZC_FLOW_NO_SPLICE))
		CHECK(st.by_method[ZC_METHOD_READ_WRITE] == s2);
	/* Copy out and splice out both splice in; read/write reads. */
	zc_flow_stats(a, &st);
	CHECK(st.bytes == s1 && stats_exact(&st));
	if (flags & (ZC_FLOW_COPY_OUT | ZC_FLOW_SPLICE_TCP))
		CHECK(st.by_method[ZC_METHOD_SPLICE_PIPE] == s1);
	if (flags & ZC_FLOW_NO_SPLICE)
		CHECK(st.by_method[ZC_METHOD_READ_WRITE] == s1);
	/* The sockets are blocking again once the flows are gone. */
	zc_flow_free(a);
	CHECK(fcntl(lp[0], F_GETFL) & O_NONBLOCK);	/* b still uses them */
	CHECK(fcntl(rp[0], F_GETFL) & O_NONBLOCK);
	zc_flow_free(b);
	CHECK(!(fcntl(lp[0], F_GETFL) & O_NONBLOCK));
	CHECK(!(fcntl(rp[0], F_GETFL) & O_NONBLOCK));
	zc_loop_free(loop);
	close(lp[0]);
	close(rp[0]);
	for (r = 0; r < 4; r++)
		if (reap(p[r]) != 0)
			FAIL("peer %d failed (tcp %d, sizes %llu %llu)", r, tcp,
			    (unsigned long long)s1, (unsigned long long)s2);
	if ((r = fd_count()) != base)
		FAIL("%d descriptors open, %d before", r, base);
}

#define NFLOWS 50

static int many_done, many_bad;

static void
many_on_done(struct zc_flow *f, int err, void *arg)
{
	many_done++;
	if (err)
		many_bad++;
}

/* 50 socket -> socket flows, half over TCP, some writers pausing
 * (small chunks), all in one loop. */
static void
many(void)
{
	struct zc_flow_opts o = { .on_done = many_on_done };
	struct zc_loop *loop;
	struct zc_flow *f[NFLOWS];
	struct zc_stats st;
	pid_t w[NFLOWS], c[NFLOWS];
	int src[NFLOWS], dst[NFLOWS], p[2], q[2], i, r, base;
	uint64_t size;

	base = fd_count();
	loop = zc_loop_new();
	for (i = 0; i < NFLOWS; i++) {
		size = 200000 + 7919 * i;
		if (i % 2 ? tcp_pair(&p[0], &p[1]) == -1 :
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
			exit(1);
		if (i % 3 ? tcp_pair(&q[0], &q[1]) == -1 :
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, q))
			exit(1);
		src[i] = p[0];
		dst[i] = q[0];
		w[i] = spawn_writer(p[1], 100 + i, size, i % 5 ? 0 : 1000,
		    i % 5 ? 0 : 300);
		c[i] = spawn_checker(q[1], 100 + i, size, i % 7 ? 0 : 1024,
		    0);
		if ((f[i] = zc_flow_new(loop, src[i], &o)) == NULL ||
		    zc_flow_add_sink(f[i], dst[i]) != 0)
			exit(1);
	}
	if ((r = zc_loop_run(loop, 30000)) != 0)
		FAIL("zc_loop_run: %s", strerror(-r));
	if (many_done != NFLOWS || many_bad)
		FAIL("%d flows done, %d failed", many_done, many_bad);
	for (i = 0; i < NFLOWS; i++) {
		size = 200000 + 7919 * i;
		zc_flow_sink_stats(f[i], 0, &st);
		if (st.bytes != size || !stats_exact(&st))
			FAIL("flow %d: %llu bytes", i,
			    (unsigned long long)st.bytes);
		zc_flow_free(f[i]);
		close(src[i]);
		close(dst[i]);
		if ((r = reap(w[i])) != 0)
			FAIL("writer %d exit %d", i, r);
		if ((r = reap(c[i])) != 0)
			FAIL("checker %d exit %d", i, r);
	}
	zc_loop_free(loop);
	if ((r = fd_count()) != base)
		FAIL("%d descriptors open, %d before", r, base);
}

/* Writes stream seed in two phases: small pieces, each once the last
 * was read (so that a busy machine cannot merge them), then large ones
 * at full speed; shuts down. */
static pid_t
spawn_phases(int fd, uint64_t seed, uint64_t small, uint64_t large)
{
	unsigned char buf[65536];
	uint64_t off = 0;
	size_t n;
	int queued;
	pid_t pid;

	if ((pid = fork()) != 0) {
		close(fd);
		return pid;
	}
	alarm(60);
	fd = close_others(fd);
	while (off < small + large) {
		n = off < small ? 300 : sizeof(buf);
		if (n > small + large - off)
			n = small + large - off;
		gen(seed, off, buf, n);
		if (write(fd, buf, n) != (ssize_t)n)
			_exit(1);
		off += n;
		while (off <= small && ioctl(fd, SIOCOUTQ, &queued) == 0 &&
		    queued > 0)
			usleep(50);
	}
	_exit(0);
}

/* A socket -> socket flow moving small pieces, then large ones: the
 * measured choice may switch between its methods as the chunk size
 * changes class; not a byte is lost or repeated, the counts add up. */
static void
changing_chunks(void)
{
	struct zc_flow_opts o = { .on_done = many_on_done };
	uint64_t small = 300 * 200, large = 32 << 20;
	struct zc_loop *loop;
	struct zc_flow *f;
	struct zc_stats st;
	int p[2], q[2], base = fd_count();
	pid_t w, c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) ||
	    tcp_pair(&q[0], &q[1]))
		exit(1);
	w = spawn_phases(p[1], 9, small, large);
	c = spawn_checker(q[1], 9, small + large, 0, 0);
	loop = zc_loop_new();
	f = zc_flow_new(loop, p[0], &o);
	zc_flow_add_sink(f, q[0]);
	many_done = many_bad = 0;
	CHECK(zc_loop_run(loop, 30000) == 0);
	CHECK(many_done == 1 && many_bad == 0);
	zc_flow_sink_stats(f, 0, &st);
	CHECK(st.bytes == small + large && stats_exact(&st));
	zc_flow_stats(f, &st);
	CHECK(st.bytes == small + large && stats_exact(&st));
	zc_loop_free(loop);
	close(p[0]);
	close(q[0]);
	CHECK(reap(w) == 0);
	CHECK(reap(c) == 0);
	CHECK(fd_count() == base);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	duplex(0, 0, 0, 0);
	duplex(0, 1, 0, 0);
	duplex(1, 1 << 20, 5, 0);
	duplex(1, 8 << 20, 8 << 20, 0);
	duplex(0, 8 << 20, 3 << 20, 0);
	duplex(1, 3 << 20, 1 << 20, ZC_FLOW_NO_SPLICE);
	duplex(1, 8 << 20, 3 << 20, ZC_FLOW_SPLICE_TCP);
	duplex(1, 8 << 20, 3 << 20, ZC_FLOW_COPY_OUT);
	duplex(0, 3 << 20, 8 << 20, ZC_FLOW_COPY_OUT);
	duplex(1, 48 << 20, 40 << 20, 0);
	many();
	changing_chunks();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
