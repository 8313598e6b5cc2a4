/* zc_transfer across a matrix of descriptor kinds, limits, fallbacks. */
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "zerocopy.h"
#include "helpers.h"

enum kind { K_FILE, K_PIPE, K_UNIX, K_TCP, K_NULL, K_COUNT };

static const char *const kind_names[K_COUNT] = {
	"file", "pipe", "unix", "tcp", "null"
};

static char tmpdir[] = "/tmp/zc-test-transfer.XXXXXX";
static int file_seq;

/* One end of a transfer and whatever runs behind it. */
struct end {
	enum kind kind;
	int fd;
	pid_t pid;		/* writer or reader child, or 0 */
	int res;		/* reader child: count and hash come back here */
	char path[256];		/* K_FILE */
};

struct result {
	uint64_t count, hash;
};

/* A connected TCP pair on 127.0.0.1 (port 0, read back). */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1)
		DIE("tcp listen");
	if ((sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(sv[0], (struct sockaddr *)&sin, sizeof(sin)) == -1)
		DIE("tcp connect");
	if ((sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		DIE("tcp accept");
	close(l);
}

/* Two connected descriptors of kind k: sv[0] reads, sv[1] writes. */
static void
make_pair(enum kind k, int sv[2])
{
	if (k == K_PIPE) {
		if (pipe2(sv, O_CLOEXEC) == -1)
			DIE("pipe2");
	} else if (k == K_UNIX) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
			DIE("socketpair");
	} else {
		tcp_pair(sv);
	}
}

static void
set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A source of kind k holding size bytes for seed; a child writes them
 * in pieces of piece bytes, pausing delay_ms before each. */
static void
make_src(struct end *e, enum kind k, uint64_t size, unsigned seed,
    size_t piece, int delay_ms)
{
	uint64_t off;
	size_t n;
	int sv[2];

	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->res = -1;
	if (k == K_FILE) {
		snprintf(e->path, sizeof(e->path), "%s/src%d", tmpdir,
		    file_seq++);
		if ((e->fd = open(e->path, O_RDWR | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1)
			DIE(e->path);
		if (pattern_write(e->fd, size, seed) == -1)
			DIE("write");
		lseek(e->fd, 0, SEEK_SET);
		return;
	}
	make_pair(k, sv);
	if ((e->pid = fork()) == -1)
		DIE("fork");
	if (e->pid == 0) {
		close(sv[0]);
		if (piece == 0) {
			_exit(pattern_write(sv[1], size, seed) == -1);
		}
		for (off = 0; off < size; off += n) {
			msleep(delay_ms);
			n = size - off < piece ? (size_t)(size - off) : piece;
			{
				unsigned char *buf = malloc(n);
				size_t w;
				ssize_t r;

				pattern_fill(buf, n, off, seed);
				for (w = 0; w < n; w += (size_t)r)
					if ((r = write(sv[1], buf + w, n - w)) < 0)
						_exit(1);
				free(buf);
			}
		}
		_exit(0);
	}
	close(sv[1]);
	e->fd = sv[0];
}

/* A sink of kind k; pipes and sockets get a reader child that hashes
 * what it reads, pausing delay_ms every 64 KiB. */
static void
make_dst(struct end *e, enum kind k, int delay_ms)
{
	int sv[2], res[2];

	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->res = -1;
	if (k == K_FILE) {
		snprintf(e->path, sizeof(e->path), "%s/dst%d", tmpdir,
		    file_seq++);
		if ((e->fd = open(e->path, O_RDWR | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1)
			DIE(e->path);
		return;
	}
	if (k == K_NULL) {
		if ((e->fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
			DIE("/dev/null");
		return;
	}
	make_pair(k, sv);
	if (pipe2(res, O_CLOEXEC) == -1)
		DIE("pipe2");
	if ((e->pid = fork()) == -1)
		DIE("fork");
	if (e->pid == 0) {
		struct result r = { 0, HASH_INIT };
		unsigned char buf[16384];
		uint64_t mark = 0;
		ssize_t n;

		close(sv[1]);
		close(res[0]);
		for (;;) {
			n = read(sv[0], buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			r.hash = hash_add(r.hash, buf, (size_t)n);
			r.count += (uint64_t)n;
			if (delay_ms > 0 && r.count - mark >= 65536) {
				mark = r.count;
				msleep(delay_ms);
			}
		}
		_exit(write(res[1], &r, sizeof(r)) != sizeof(r));
	}
	close(sv[0]);
	close(res[1]);
	e->fd = sv[1];
	e->res = res[0];
}

/* Ends a source: closes it and reaps its writer. */
static void
end_src(struct end *e)
{
	int status;

	close(e->fd);
	if (e->pid > 0)
		waitpid(e->pid, &status, 0);
	if (e->kind == K_FILE)
		unlink(e->path);
}

/* Ends a sink and says what reached it. */
static struct result
end_dst(struct end *e)
{
	struct result r = { 0, HASH_INIT };
	int status;

	if (e->kind == K_FILE) {
		lseek(e->fd, 0, SEEK_SET);
		if (drain_hash(e->fd, &r.count, &r.hash) == -1)
			DIE("read back");
		close(e->fd);
		unlink(e->path);
		return r;
	}
	close(e->fd);
	if (e->pid > 0) {
		if (read(e->res, &r, sizeof(r)) != sizeof(r))
			DIE("reader result");
		close(e->res);
		waitpid(e->pid, &status, 0);
	}
	return r;
}

/* The method zc_transfer should pick for a pair of kinds. */
static enum zc_method
expected_method(enum kind s, enum kind d)
{
	if (s == K_FILE && d == K_FILE)
		return ZC_METHOD_COPY_FILE_RANGE;
	if (s == K_FILE)
		return ZC_METHOD_SENDFILE;
	if (d == K_TCP || d == K_UNIX)
		return ZC_METHOD_COUNT;		/* measured */
	if (s == K_PIPE || d == K_PIPE)
		return ZC_METHOD_SPLICE;
	return ZC_METHOD_SPLICE_PIPE;
}

static uint64_t
stats_sum(const struct zc_stats *st)
{
	uint64_t sum = 0;
	int m;

	for (m = 0; m < ZC_METHOD_COUNT; m++)
		sum += st->by_method[m];
	return sum;
}

struct progress {
	int calls;
	uint64_t last;
	int backwards;
};

static void
on_progress(void *arg, const struct zc_stats *st)
{
	struct progress *p = arg;

	if (st->bytes < p->last || stats_sum(st) != st->bytes)
		p->backwards++;
	p->last = st->bytes;
	p->calls++;
}

#define CASE(fmt, ...) snprintf(label, sizeof(label), fmt, __VA_ARGS__)

static char label[160];

#define TCHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s: %s:%d: check failed: %s\n",	\
		    label, __FILE__, __LINE__, #cond);			\
		failures++;						\
	}								\
} while (0)

/* One transfer of size bytes from a source of kind s to a sink of kind
 * d; with nonblock, the caller's ends are non-blocking and the peers
 * slow. */
static void
run_case(enum kind s, enum kind d, uint64_t size, bool nonblock)
{
	struct zc_transfer_opts o = { 0 };
	struct progress pr = { 0 };
	struct zc_stats st;
	struct end src, dst;
	struct result r;
	unsigned seed = (unsigned)(size * 31 + s * 7 + d);
	int64_t got;
	enum zc_method m = expected_method(s, d);

	CASE("%s -> %s, %llu bytes%s", kind_names[s], kind_names[d],
	    (unsigned long long)size, nonblock ? ", non-blocking" : "");
	o.progress = on_progress;
	o.arg = &pr;
	make_src(&src, s, size, seed, nonblock ? 50000 : 0, 3);
	make_dst(&dst, d, nonblock ? 2 : 0);
	if (nonblock) {
		set_nonblock(src.fd);
		set_nonblock(dst.fd);
	}
	got = zc_transfer(dst.fd, src.fd, ZC_NO_LIMIT, &o, &st);
	r = end_dst(&dst);
	end_src(&src);
	TCHECK(got == (int64_t)size);
	TCHECK(st.bytes == size);
	TCHECK(stats_sum(&st) == size);
	TCHECK(st.err_side == ZC_SIDE_NONE);
	/* Into a socket: spliced (straight from a pipe, else through the
	 * owned pipe) or written, as measured. */
	if (m == ZC_METHOD_COUNT)
		TCHECK(st.by_method[s == K_PIPE ? ZC_METHOD_SPLICE :
		    ZC_METHOD_SPLICE_PIPE] + st.by_method[ZC_METHOD_READ_WRITE] ==
		    size);
	/* Through the owned pipe, small pieces may go by read/write. */
	else if (m == ZC_METHOD_SPLICE_PIPE)
		TCHECK(size == 0 || (st.by_method[m] > 0 &&
		    st.by_method[m] + st.by_method[ZC_METHOD_READ_WRITE] ==
		    size));
	else
		TCHECK(size == 0 || st.by_method[m] == size);
	TCHECK(size == 0 || pr.calls > 0);
	TCHECK(pr.backwards == 0 && pr.last == size);
	if (d != K_NULL) {
		TCHECK(r.count == size);
		TCHECK(r.hash == pattern_hash(size, seed));
	}
}

static void
test_matrix(void)
{
	static const uint64_t sizes[] = { 0, 1, 65535, 65537, 1048577 };
	enum kind s, d;
	size_t i;

	for (s = K_FILE; s < K_NULL; s++)
		for (d = K_FILE; d < K_COUNT; d++)
			for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
				run_case(s, d, sizes[i], false);
	/* Non-blocking ends with a slow writer and a slow reader. */
	for (s = K_FILE; s < K_NULL; s++)
		for (d = K_FILE; d < K_COUNT; d++)
			run_case(s, d, 300001, true);
}

/* Limits: exactly min(limit, size) moves and the source keeps the rest. */
static void
test_limits(void)
{
	static const uint64_t limits[] = { 0, 1, 65536, 99999, 100000,
	    200000 };
	static const enum kind srcs[] = { K_FILE, K_PIPE, K_UNIX };
	struct zc_stats st;
	struct end src, dst;
	struct result r;
	uint64_t want, count, hash;
	int64_t got;
	size_t i, j;

	for (j = 0; j < sizeof(srcs) / sizeof(srcs[0]); j++) {
		for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
			CASE("limit %llu from %s",
			    (unsigned long long)limits[i], kind_names[srcs[j]]);
			want = limits[i] < 100000 ? limits[i] : 100000;
			make_src(&src, srcs[j], 100000, 9, 0, 0);
			make_dst(&dst, K_FILE, 0);
			got = zc_transfer(dst.fd, src.fd, limits[i], NULL, &st);
			TCHECK(got == (int64_t)want);
			TCHECK(st.bytes == want && stats_sum(&st) == want);
			if (srcs[j] == K_FILE)
				TCHECK(lseek(src.fd, 0, SEEK_CUR) ==
				    (off_t)want);
			/* The rest is still in the source. */
			TCHECK(drain_hash(src.fd, &count, &hash) == 0);
			TCHECK(count == 100000 - want);
			r = end_dst(&dst);
			end_src(&src);
			TCHECK(r.count == want);
			TCHECK(r.hash == pattern_hash(want, 9));
		}
	}
}

/* An O_APPEND sink: read/write only, appended after what was there. */
static void
test_append(void)
{
	static const enum kind srcs[] = { K_FILE, K_PIPE, K_UNIX };
	struct zc_stats st;
	struct end src;
	unsigned char buf[4096];
	uint64_t count, hash, total;
	char path[300];
	int64_t got;
	size_t j;
	int fd;

	for (j = 0; j < sizeof(srcs) / sizeof(srcs[0]); j++) {
		CASE("append from %s", kind_names[srcs[j]]);
		snprintf(path, sizeof(path), "%s/append", tmpdir);
		if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600)) == -1)
			DIE(path);
		pattern_write(fd, 1000, 10);
		close(fd);
		if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
			DIE(path);
		make_src(&src, srcs[j], 300000, 11, 0, 0);
		got = zc_transfer(fd, src.fd, ZC_NO_LIMIT, NULL, &st);
		end_src(&src);
		close(fd);
		TCHECK(got == 300000);
		TCHECK(st.by_method[ZC_METHOD_READ_WRITE] == 300000);
		TCHECK(stats_sum(&st) == 300000);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			DIE(path);
		TCHECK(read(fd, buf, 1000) == 1000);
		total = 0;
		{
			unsigned char want[1000];

			pattern_fill(want, 1000, 0, 10);
			TCHECK(memcmp(buf, want, 1000) == 0);
		}
		TCHECK(drain_hash(fd, &count, &hash) == 0);
		total += count;
		TCHECK(total == 300000);
		TCHECK(hash == pattern_hash(300000, 11));
		close(fd);
		unlink(path);
	}
}

/* 100001 bytes from a source of kind sk to a sink of kind dk with the
 * options given: all of them by method m, byte-exact. */
static void
opt_case(const char *what, unsigned flags, size_t pipe_size,
    size_t buf_size, enum kind sk, enum kind dk, enum zc_method m,
    unsigned seed)
{
	struct zc_transfer_opts o = { 0 };
	struct zc_stats st;
	struct end src, dst;
	struct result r;
	int64_t got;

	CASE("%s", what);
	o.flags = flags;
	o.pipe_size = pipe_size;
	o.buf_size = buf_size;
	make_src(&src, sk, 100001, seed, 0, 0);
	make_dst(&dst, dk, 0);
	got = zc_transfer(dst.fd, src.fd, ZC_NO_LIMIT, &o, &st);
	r = end_dst(&dst);
	end_src(&src);
	TCHECK(got == 100001 && st.by_method[m] == 100001);
	TCHECK(r.count == 100001 && r.hash == pattern_hash(100001, seed));
}

/* Options: read/write only, small buffers, small owned pipes, pipes
 * left at their size. */
static void
test_options(void)
{
	struct zc_transfer_opts o = { 0 };
	struct zc_stats st;
	struct end src, dst;
	struct result r;
	int64_t got;
	ssize_t before;

	opt_case("no splice, 1000-byte buffer", ZC_XFER_NO_SPLICE, 0, 1000,
	    K_FILE, K_PIPE, ZC_METHOD_READ_WRITE, 12);
	opt_case("4 KiB owned pipe, spliced into TCP when asked",
	    ZC_XFER_SPLICE_TCP, 4096, 0, K_UNIX, K_TCP, ZC_METHOD_SPLICE_PIPE,
	    13);
	opt_case("pipe into TCP spliced when asked", ZC_XFER_SPLICE_TCP, 0, 0,
	    K_PIPE, K_TCP, ZC_METHOD_SPLICE, 15);
	opt_case("unix socket into TCP copied out when asked",
	    ZC_XFER_COPY_OUT, 4096, 0, K_UNIX, K_TCP, ZC_METHOD_READ_WRITE,
	    16);
	opt_case("pipe into a unix socket spliced when asked",
	    ZC_XFER_SPLICE_TCP, 0, 0, K_PIPE, K_UNIX, ZC_METHOD_SPLICE, 17);
	opt_case("pipe into a unix socket by read/write with copy-out",
	    ZC_XFER_COPY_OUT, 0, 0, K_PIPE, K_UNIX, ZC_METHOD_READ_WRITE, 18);

	memset(&o, 0, sizeof(o));
	CASE("%s", "pipes grown, or not");
	memset(&o, 0, sizeof(o));
	make_src(&src, K_PIPE, 1000, 14, 0, 0);
	make_dst(&dst, K_PIPE, 0);
	before = zc_pipe_fd_size(dst.fd);
	o.flags = ZC_XFER_NO_GROW;
	got = zc_transfer(dst.fd, src.fd, 10, &o, &st);
	TCHECK(got == 10);
	TCHECK(zc_pipe_fd_size(dst.fd) == before);
	TCHECK(zc_pipe_fd_size(src.fd) == before);
	o.flags = 0;
	got = zc_transfer(dst.fd, src.fd, ZC_NO_LIMIT, &o, &st);
	TCHECK(got == 990);
	TCHECK(zc_pipe_fd_size(dst.fd) == (ssize_t)zc_pipe_max_size());
	TCHECK(zc_pipe_fd_size(src.fd) == (ssize_t)zc_pipe_max_size());
	r = end_dst(&dst);
	end_src(&src);
	TCHECK(r.count == 1000 && r.hash == pattern_hash(1000, 14));

	CASE("%s", "/proc file (size 0) to a pipe");
	{
		struct zc_stats st2;
		int fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);

		make_dst(&dst, K_PIPE, 0);
		got = zc_transfer(dst.fd, fd, ZC_NO_LIMIT, NULL, &st2);
		r = end_dst(&dst);
		close(fd);
		TCHECK(got > 0 && r.count == (uint64_t)got);
		TCHECK(stats_sum(&st2) == (uint64_t)got);
	}
}

/* Failures: the error, and the side it came from. */
static void
test_errors(void)
{
	struct zc_stats st;
	struct end src, dst;
	int64_t got;
	int sv[2], fd;
	char path[300];

	CASE("%s", "reader gone");
	make_src(&src, K_FILE, 100000, 15, 0, 0);
	if (pipe2(sv, O_CLOEXEC) == -1)
		DIE("pipe2");
	close(sv[0]);
	got = zc_transfer(sv[1], src.fd, ZC_NO_LIMIT, NULL, &st);
	TCHECK(got == -EPIPE);
	TCHECK(st.err_side == ZC_SIDE_DST);
	TCHECK(st.bytes == 0);
	close(sv[1]);
	end_src(&src);

	CASE("%s", "reader gone, read/write");
	{
		struct zc_transfer_opts o = { .flags = ZC_XFER_NO_SPLICE };

		make_src(&src, K_PIPE, 100000, 15, 0, 0);
		if (pipe2(sv, O_CLOEXEC) == -1)
			DIE("pipe2");
		close(sv[0]);
		got = zc_transfer(sv[1], src.fd, ZC_NO_LIMIT, &o, &st);
		TCHECK(got == -EPIPE);
		TCHECK(st.err_side == ZC_SIDE_DST);
		close(sv[1]);
		end_src(&src);
	}

	CASE("%s", "bad source");
	make_dst(&dst, K_FILE, 0);
	got = zc_transfer(dst.fd, -1, ZC_NO_LIMIT, NULL, &st);
	TCHECK(got == -EBADF && st.err_side == ZC_SIDE_SRC);
	got = zc_transfer(-1, dst.fd, ZC_NO_LIMIT, NULL, &st);
	TCHECK(got == -EBADF && st.err_side == ZC_SIDE_DST);

	CASE("%s", "read-only sink");
	snprintf(path, sizeof(path), "%s/ro", tmpdir);
	if ((fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		DIE(path);
	make_src(&src, K_FILE, 1000, 16, 0, 0);
	got = zc_transfer(fd, src.fd, ZC_NO_LIMIT, NULL, &st);
	TCHECK(got == -EBADF && st.err_side == ZC_SIDE_DST);
	end_src(&src);
	make_src(&src, K_UNIX, 1000, 16, 0, 0);
	got = zc_transfer(fd, src.fd, ZC_NO_LIMIT, NULL, &st);
	TCHECK(got == -EBADF && st.err_side == ZC_SIDE_DST);
	end_src(&src);
	close(fd);
	unlink(path);

	CASE("%s", "write-only source");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		DIE(path);
	got = zc_transfer(dst.fd, fd, ZC_NO_LIMIT, NULL, &st);
	TCHECK(got == -EBADF && st.err_side == ZC_SIDE_SRC);
	close(fd);
	unlink(path);
	end_dst(&dst);
}

struct bg {
	int dst, src;
	int64_t got;
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;

	b->got = zc_transfer(b->dst, b->src, ZC_NO_LIMIT, NULL, NULL);
	return NULL;
}

/*
 * A blocking socket into a pipe: bytes reach the pipe's reader while
 * the socket stays quiet (the transfer must not sit in splice(2), which
 * holds the pipe's lock, waiting for the socket).
 */
static void
test_interactive(void)
{
	static const enum kind srcs[] = { K_UNIX, K_TCP };
	struct bg b;
	pthread_t t;
	char buf[16];
	int sv[2], pv[2];
	long long t0;
	size_t j;

	alarm(30);	/* the bug this looks for hangs */
	for (j = 0; j < sizeof(srcs) / sizeof(srcs[0]); j++) {
		CASE("interactive %s to pipe", kind_names[srcs[j]]);
		make_pair(srcs[j], sv);
		if (pipe2(pv, O_CLOEXEC) == -1)
			DIE("pipe2");
		b = (struct bg){ pv[1], sv[0], 0 };
		if (pthread_create(&t, NULL, bg_main, &b) != 0)
			DIE("pthread_create");
		TCHECK(write(sv[1], "hello", 5) == 5);
		msleep(100);
		t0 = now_ms();
		TCHECK(read(pv[0], buf, sizeof(buf)) == 5);
		TCHECK(now_ms() - t0 < 500);
		TCHECK(write(sv[1], "again", 5) == 5);
		TCHECK(read(pv[0], buf, sizeof(buf)) == 5);
		close(sv[1]);
		pthread_join(t, NULL);
		TCHECK(b.got == 10);
		close(sv[0]);
		close(pv[0]);
		close(pv[1]);
	}
	alarm(0);
}

int
main(void)
{
	int base;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL)
		DIE("mkdtemp");
	base = fd_count();
	test_matrix();
	test_limits();
	test_append();
	test_options();
	test_errors();
	test_interactive();
	CHECK_EQ(fd_count(), base);
	rmdir(tmpdir);
	if (failures > 0) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
