/*
 * flow_rest: ZC_FLOW_KEEP_REST. Flows on one source, one after another,
 * each to a sink whose reader takes some bytes and goes: what one flow
 * read and did not deliver goes to the next, so that together they
 * deliver the source exactly once, for every mode (hub pipe, bounce
 * buffer, read/write). Also: the limit takes part of a rest, a rest is
 * not given to another file on the same descriptor number, and a second
 * sink is refused.
 */
#include <poll.h>

#include "tutil.h"

#define SEED 77

enum { SINK_UNIX, SINK_TCP };

/* One reader: the sink end it reads, what it got, when to stop. */
struct reader {
	struct zc_loop *loop;
	int fd;
	uint64_t *off;		/* where the next byte is in the stream */
	uint64_t quota;		/* stop reading after this many */
	uint64_t got;
	int bad;
	int done, err;
};

/* Reads what fd has now (all of it with wait, until its end), checking
 * it against the stream from *r->off on; returns what it read. */
static uint64_t
take(struct reader *r, uint64_t max, int wait)
{
	unsigned char buf[65536], want[65536];
	uint64_t n0 = r->got;
	ssize_t n;

	while (r->got - n0 < max) {
		n = recv(r->fd, buf, sizeof(buf), wait ? 0 : MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		gen(SEED, *r->off, want, n);
		if (memcmp(buf, want, n) != 0 && !r->bad) {
			FAIL("a wrong byte near offset %llu",
			    (unsigned long long)*r->off);
			r->bad = 1;
		}
		*r->off += n;
		r->got += n;
	}
	return r->got - n0;
}

static void
on_readable(struct zc_loop *loop, int fd, unsigned revents, void *arg)
{
	struct reader *r = arg;

	take(r, r->quota - r->got, 0);
	if (r->got >= r->quota) {
		zc_loop_unwatch(loop, fd);
		zc_loop_stop(loop);
	}
}

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	struct reader *r = arg;

	r->done = 1;
	r->err = err;
	zc_loop_stop(r->loop);
}

static void
sink_pair(int kind, int *in, int *out)
{
	int p[2];

	if (kind == SINK_TCP) {
		if (tcp_pair(&p[0], &p[1]) == -1)
			exit(1);
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
		exit(1);
	*in = p[0];
	*out = p[1];
}

/* A flow from src to a new sink whose reader takes quota bytes (all
 * with quota 0), lets the flow fill its pipes and buffers, and goes;
 * returns the bytes the flow's sink stats say it delivered. */
static uint64_t
client(struct zc_loop *loop, int src, int sinkk, unsigned flags,
    uint64_t quota, uint64_t *off, uint64_t limit, int *done)
{
	struct zc_flow_opts o = { 0 };
	struct reader r = { 0 };
	struct zc_stats st;
	struct zc_flow *f;
	int in, out, rc;

	sink_pair(sinkk, &in, &out);
	r.loop = loop;
	r.fd = out;
	r.off = off;
	r.quota = quota ? quota : UINT64_MAX;
	o.flags = flags | ZC_FLOW_KEEP_REST;
	o.limit = limit;
	o.on_done = on_done;
	o.arg = &r;
	if ((f = zc_flow_new(loop, src, &o)) == NULL)
		exit(1);
	CHECK(zc_flow_add_sink(f, in) == 0);
	CHECK(zc_loop_watch(loop, out, POLLIN, on_readable, &r) == 0);
	while (!r.done && r.got < r.quota) {
		rc = zc_loop_run(loop, 10000);
		if (rc == -ETIMEDOUT) {
			FAIL("stuck after %llu bytes", (unsigned long long)r.got);
			break;
		}
	}
	zc_loop_unwatch(loop, out);
	/* The reader stopped: the flow fills what it holds, then blocks. */
	if (!r.done)
		zc_loop_run(loop, 30);
	CHECK(!r.done || r.err == 0);
	zc_flow_sink_stats(f, 0, &st);
	*done = r.done;
	zc_flow_free(f);
	/* What the kernel holds for the reader was delivered: take it. */
	close(in);
	take(&r, UINT64_MAX, 1);
	close(out);
	CHECK(r.got == st.bytes);
	return st.bytes;
}

/* Seven clients, the last one to the end: together they get the whole
 * stream, once, in order. */
static void
test_clients(int srck, int sinkk, unsigned flags)
{
	static const uint64_t quotas[] = { 300000, 1, 700001, 65536,
	    1200000, 4096, 0 };
	uint64_t size = 8u << 20, off = 0, sent = 0;
	struct zc_loop *loop;
	pid_t wpid;
	int src, done = 0;
	size_t i;

	src = open_source(srck, tmpdir, SEED, size, &wpid);
	if ((loop = zc_loop_new()) == NULL)
		exit(1);
	for (i = 0; i < sizeof(quotas) / sizeof(quotas[0]) && !done; i++)
		sent += client(loop, src, sinkk, flags, quotas[i], &off, 0,
		    &done);
	CHECK(done);
	if (off != size || sent != size)
		FAIL("source %d, sink %d, flags %#x: %llu bytes received, "
		    "%llu sent, of %llu", srck, sinkk, flags,
		    (unsigned long long)off, (unsigned long long)sent,
		    (unsigned long long)size);
	zc_loop_free(loop);
	close(src);
	if (wpid > 0)
		CHECK(reap(wpid) == 0);
}

/* A flow with a limit takes only that much of a rest; the next one
 * takes the remainder, then the source. */
static void
test_limit(void)
{
	uint64_t size = 4u << 20, off = 0, a, b, c;
	struct zc_loop *loop;
	pid_t wpid;
	int src, done;

	src = open_source(SRC_FILE, tmpdir, SEED, size, &wpid);
	if ((loop = zc_loop_new()) == NULL)
		exit(1);
	a = client(loop, src, SINK_UNIX, 0, 100000, &off, 0, &done);
	CHECK(!done);
	/* The file's offset is past what was delivered: a rest is kept. */
	CHECK((uint64_t)lseek(src, 0, SEEK_CUR) > a + 1000);
	b = client(loop, src, SINK_UNIX, 0, 0, &off, 1000, &done);
	CHECK(done);
	CHECK(b == 1000);
	c = client(loop, src, SINK_UNIX, 0, 0, &off, 0, &done);
	CHECK(done);
	CHECK(a + b + c == size);
	CHECK(off == size);
	zc_loop_free(loop);
	close(src);
}

/* A rest stays with its file: another file on the descriptor number
 * starts from its own beginning. */
static void
test_other_file(void)
{
	uint64_t size = 2u << 20, off = 0;
	struct zc_loop *loop;
	char path[300];
	pid_t wpid;
	int src, fd, done;

	src = open_source(SRC_FILE, tmpdir, SEED, size, &wpid);
	if ((loop = zc_loop_new()) == NULL)
		exit(1);
	client(loop, src, SINK_UNIX, 0, 100000, &off, 0, &done);
	CHECK(!done);
	snprintf(path, sizeof(path), "%s/src", tmpdir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		exit(1);
	/* Same bytes, but a new file: a copy, so the inode differs. */
	snprintf(path, sizeof(path), "%s/copy", tmpdir);
	{
		int w = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);

		if (w == -1 || zc_transfer(w, fd, ZC_NO_LIMIT, NULL, NULL) !=
		    (int64_t)size)
			exit(1);
		close(w);
		close(fd);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    dup3(fd, src, O_CLOEXEC) == -1)
		exit(1);
	close(fd);
	off = 0;
	CHECK(client(loop, src, SINK_UNIX, 0, 0, &off, 0, &done) == size);
	CHECK(done);
	zc_loop_free(loop);
	close(src);
	unlink(path);
}

static void
test_two_sinks(void)
{
	struct zc_flow_opts o = { .flags = ZC_FLOW_KEEP_REST };
	struct zc_loop *loop;
	struct zc_flow *f;
	int p[2];

	if ((loop = zc_loop_new()) == NULL || pipe2(p, O_CLOEXEC) == -1)
		exit(1);
	if ((f = zc_flow_new(loop, p[0], &o)) == NULL)
		exit(1);
	CHECK(zc_flow_add_sink(f, p[1]) == 0);
	CHECK(zc_flow_add_sink(f, p[1]) == -EINVAL);
	zc_loop_free(loop);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	int base;

	signal(SIGPIPE, SIG_IGN);
	make_tmpdir();
	base = fd_count();
	test_clients(SRC_FILE, SINK_UNIX, 0);		/* hub pipe */
	test_clients(SRC_FILE, SINK_TCP, 0);		/* hub and buffer */
	test_clients(SRC_PIPE, SINK_TCP, 0);		/* bounce buffer */
	test_clients(SRC_PIPE, SINK_UNIX, 0);		/* spliced: no rest */
	test_clients(SRC_FILE, SINK_UNIX, ZC_FLOW_NO_SPLICE);
	test_clients(SRC_PIPE, SINK_TCP, ZC_FLOW_NO_SPLICE);
	test_clients(SRC_TCP, SINK_TCP, ZC_FLOW_SPLICE_TCP);
	test_limit();
	test_other_file();
	test_two_sinks();
	CHECK(fd_count() == base);
	remove_tmpdir();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
