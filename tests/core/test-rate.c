/*
 * ZC_XFER_RATE, ZC_XFER_TICK and ZC_FLOW_RATE: paced transfers and flows
 * keep their methods and their bytes, a tick reaches the progress
 * callback while the source stalls, a paced flow does not hold up the
 * others in its loop, and callers built with the shorter 0.1 structs
 * (no flags) are not read past their end.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>

#include "zerocopy.h"
#include "helpers.h"

static char tmpdir[] = "/tmp/zc-test-rate.XXXXXX";

struct writer {
	int fd;
	uint64_t len;
	unsigned seed;
	int pause_ms;		/* after the first 1000 bytes; 0: none */
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[1000];

	if (w->pause_ms > 0) {
		pattern_fill(buf, sizeof(buf), 0, w->seed);
		if (write(w->fd, buf, sizeof(buf)) != sizeof(buf))
			DIE("write");
		msleep(w->pause_ms);
		pattern_fill(buf, sizeof(buf), 1000, w->seed);
		if (write(w->fd, buf, sizeof(buf)) != sizeof(buf))
			DIE("write");
	} else if (pattern_write(w->fd, w->len, w->seed) < 0) {
		DIE("pattern_write");
	}
	close(w->fd);
	return NULL;
}

/* A pipe whose write end a thread fills; returns the read end. */
static int
pipe_source(pthread_t *t, struct writer *w, uint64_t len, unsigned seed,
    int pause_ms)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		DIE("pipe2");
	*w = (struct writer){ p[1], len, seed, pause_ms };
	if (pthread_create(t, NULL, writer_main, w) != 0)
		DIE("pthread_create");
	return p[0];
}

static int
out_file(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		DIE("open");
	return fd;
}

static uint64_t
file_hash(int fd)
{
	uint64_t n, h;

	lseek(fd, 0, SEEK_SET);
	if (drain_hash(fd, &n, &h) < 0)
		DIE("drain_hash");
	return h;
}

struct ticks {
	int calls;
	int at_1000;		/* calls while 1000 bytes had moved */
};

static void
count_ticks(void *arg, const struct zc_stats *st)
{
	struct ticks *t = arg;

	t->calls++;
	if (st->bytes == 1000)
		t->at_1000++;
}

/* 512 KiB at 1 MiB/s from a pipe into a file: about 0.5 s, spliced. */
static void
test_transfer_rate(void)
{
	struct zc_transfer_opts o = { 0 };
	struct zc_stats st;
	struct writer w;
	pthread_t t;
	long long start, ms;
	int src, dst;

	src = pipe_source(&t, &w, 512 * 1024, 1, 0);
	dst = out_file("rate");
	o.flags = ZC_XFER_RATE;
	o.rate = 1024 * 1024;
	start = now_ms();
	CHECK_EQ(zc_transfer(dst, src, ZC_NO_LIMIT, &o, &st), 512 * 1024);
	ms = now_ms() - start;
	pthread_join(t, NULL);
	fprintf(stderr, "transfer: 512 KiB at 1 MiB/s in %lld ms\n", ms);
	CHECK(ms >= 470);
	CHECK(ms <= 1500);	/* a loaded machine is slower, never faster */
	CHECK_EQ(st.by_method[ZC_METHOD_SPLICE], 512 * 1024);
	CHECK(file_hash(dst) == pattern_hash(512 * 1024, 1));
	close(src);
	close(dst);
}

/* A source that stalls for 600 ms: with a 50 ms tick the callback comes
 * about 12 times meanwhile (at least 3 on a loaded machine); without
 * one, not at all. */
static void
test_transfer_tick(void)
{
	struct zc_transfer_opts o = { 0 };
	struct ticks tk;
	struct writer w;
	pthread_t t;
	int src, dst, tick;

	for (tick = 0; tick < 2; tick++) {
		memset(&tk, 0, sizeof(tk));
		src = pipe_source(&t, &w, 2000, 2, 600);
		dst = out_file("tick");
		o.flags = tick ? ZC_XFER_TICK : 0;
		o.tick_ms = 50;
		o.progress = count_ticks;
		o.arg = &tk;
		CHECK_EQ(zc_transfer(dst, src, ZC_NO_LIMIT, &o, NULL), 2000);
		pthread_join(t, NULL);
		fprintf(stderr, "tick %d: %d calls, %d during the stall\n",
		    tick, tk.calls, tk.at_1000);
		if (tick)
			CHECK(tk.at_1000 >= 3);
		else
			CHECK(tk.at_1000 <= 1);
		CHECK(file_hash(dst) == pattern_hash(2000, 2));
		close(src);
		close(dst);
	}
}

/* A caller built against 0.1 passes structs that end before rate: with
 * none of the new flags nothing past them is read (ASan would say). */
static void
test_short_structs(void)
{
	struct zc_transfer_opts *to;
	struct zc_flow_opts *fo;
	struct zc_loop *l;
	struct zc_flow *f;
	struct writer w;
	pthread_t t;
	int src, dst;

	to = calloc(1, offsetof(struct zc_transfer_opts, rate));
	src = pipe_source(&t, &w, 100000, 3, 0);
	dst = out_file("short");
	CHECK_EQ(zc_transfer(dst, src, ZC_NO_LIMIT, to, NULL), 100000);
	pthread_join(t, NULL);
	CHECK(file_hash(dst) == pattern_hash(100000, 3));
	close(src);
	close(dst);
	free(to);

	fo = calloc(1, offsetof(struct zc_flow_opts, rate));
	src = pipe_source(&t, &w, 100000, 4, 0);
	dst = out_file("short-flow");
	if ((l = zc_loop_new()) == NULL ||
	    (f = zc_flow_new(l, src, fo)) == NULL)
		DIE("flow");
	CHECK_EQ(zc_flow_add_sink(f, dst), 0);
	CHECK_EQ(zc_loop_run(l, 10000), 0);
	pthread_join(t, NULL);
	CHECK(file_hash(dst) == pattern_hash(100000, 4));
	zc_loop_free(l);
	close(src);
	close(dst);
	free(fo);
}

struct done {
	long long at;
	int err;
};

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	struct done *d = arg;

	d->at = now_ms();
	d->err = err;
}

/* In one loop: 256 KiB at 512 KiB/s from a pipe, and 2 MiB unpaced from
 * another; the unpaced one is not held up, the paced one takes 0.5 s and
 * stays spliced. */
static void
test_flow_rate(void)
{
	struct zc_flow_opts o = { 0 };
	struct done da = { 0, 1 }, db = { 0, 1 };
	struct zc_stats st;
	struct zc_loop *l;
	struct zc_flow *fa, *fb;
	struct writer wa, wb;
	pthread_t ta, tb;
	long long start;
	int sa, sb, da_fd, db_fd;

	sa = pipe_source(&ta, &wa, 256 * 1024, 5, 0);
	sb = pipe_source(&tb, &wb, 2 * 1024 * 1024, 6, 0);
	da_fd = out_file("flow-a");
	db_fd = out_file("flow-b");
	if ((l = zc_loop_new()) == NULL)
		DIE("zc_loop_new");
	o.flags = ZC_FLOW_RATE;
	o.rate = 512 * 1024;
	o.on_done = on_done;
	o.arg = &da;
	if ((fa = zc_flow_new(l, sa, &o)) == NULL)
		DIE("zc_flow_new");
	o.flags = 0;
	o.arg = &db;
	if ((fb = zc_flow_new(l, sb, &o)) == NULL)
		DIE("zc_flow_new");
	CHECK_EQ(zc_flow_add_sink(fa, da_fd), 0);
	CHECK_EQ(zc_flow_add_sink(fb, db_fd), 0);
	start = now_ms();
	CHECK_EQ(zc_loop_run(l, 10000), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	fprintf(stderr, "flows: paced done in %lld ms, unpaced in %lld ms\n",
	    da.at - start, db.at - start);
	CHECK_EQ(da.err, 0);
	CHECK_EQ(db.err, 0);
	CHECK(da.at - start >= 470);
	CHECK(da.at - start <= 1500);
	CHECK(db.at - start < da.at - start);
	zc_flow_sink_stats(fa, 0, &st);
	CHECK_EQ(st.by_method[ZC_METHOD_SPLICE], 256 * 1024);
	CHECK(file_hash(da_fd) == pattern_hash(256 * 1024, 5));
	CHECK(file_hash(db_fd) == pattern_hash(2 * 1024 * 1024, 6));
	zc_loop_free(l);
	close(sa);
	close(sb);
	close(da_fd);
	close(db_fd);
}

/* Socket to socket at 100 KiB/s moves 512-byte pieces through the hub
 * pipe: they stay spliced (without the rate, pieces below 8 KiB switch
 * the flow to read/write). */
static void
test_flow_rate_sockets(void)
{
	struct zc_flow_opts o = { 0 };
	struct zc_stats st;
	struct zc_loop *l;
	struct zc_flow *f;
	struct writer w;
	pthread_t t;
	uint64_t n, h;
	int a[2], b[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == -1)
		DIE("socketpair");
	w = (struct writer){ a[1], 64 * 1024, 7, 0 };
	if (pthread_create(&t, NULL, writer_main, &w) != 0)
		DIE("pthread_create");
	if ((l = zc_loop_new()) == NULL)
		DIE("zc_loop_new");
	o.flags = ZC_FLOW_RATE | ZC_FLOW_CLOSE;
	o.rate = 100 * 1024;
	if ((f = zc_flow_new(l, a[0], &o)) == NULL)
		DIE("zc_flow_new");
	CHECK_EQ(zc_flow_add_sink(f, b[0]), 0);
	CHECK_EQ(zc_loop_run(l, 10000), 0);
	pthread_join(t, NULL);
	zc_flow_sink_stats(f, 0, &st);
	CHECK_EQ(st.bytes, 64 * 1024);
	CHECK_EQ(st.by_method[ZC_METHOD_READ_WRITE], 0);
	zc_loop_free(l);
	if (drain_hash(b[1], &n, &h) < 0)
		DIE("drain_hash");
	CHECK_EQ(n, 64 * 1024);
	CHECK(h == pattern_hash(64 * 1024, 7));
	close(b[1]);
}

int
main(void)
{
	char path[256];
	int fds = fd_count();

	if (mkdtemp(tmpdir) == NULL)
		DIE("mkdtemp");
	test_transfer_rate();
	test_transfer_tick();
	test_short_structs();
	test_flow_rate();
	test_flow_rate_sockets();
	CHECK_EQ(fd_count(), fds);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	if (system(path) != 0)
		failures++;
	return failures > 0;
}
