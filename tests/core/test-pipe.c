/* The pipe primitives: zc_pipe_*, the movers, zc_wait, version.c. */
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "zerocopy.h"
#include "helpers.h"

static void
test_version(void)
{
	CHECK(strcmp(zc_version(), ZC_VERSION) == 0);
	CHECK(strcmp(zc_strerror(-ENOENT), strerror(ENOENT)) == 0);
	CHECK(strcmp(zc_strerror(-EPIPE), strerror(EPIPE)) == 0);
	CHECK(strcmp(zc_strerror(-(ZC_EAI_BASE - EAI_NONAME)),
	    gai_strerror(EAI_NONAME)) == 0);
	CHECK(strcmp(zc_strerror(-(ZC_EAI_BASE - EAI_AGAIN)),
	    gai_strerror(EAI_AGAIN)) == 0);
	CHECK(zc_strerror(-123456789) != NULL);
	CHECK(strcmp(zc_method_name(ZC_METHOD_COPY_FILE_RANGE),
	    "copy_file_range") == 0);
	CHECK(strcmp(zc_method_name(ZC_METHOD_SENDFILE), "sendfile") == 0);
	CHECK(strcmp(zc_method_name(ZC_METHOD_SPLICE), "splice") == 0);
	CHECK(strcmp(zc_method_name(ZC_METHOD_SPLICE_PIPE), "splice-pipe") == 0);
	CHECK(strcmp(zc_method_name(ZC_METHOD_READ_WRITE), "read-write") == 0);
	CHECK(strcmp(zc_method_name(ZC_METHOD_COUNT), "unknown") == 0);
}

static size_t
proc_max(void)
{
	FILE *f;
	unsigned long v = 0;

	if ((f = fopen("/proc/sys/fs/pipe-max-size", "r")) == NULL)
		return 1024 * 1024;
	if (fscanf(f, "%lu", &v) != 1)
		v = 1024 * 1024;
	fclose(f);
	return v;
}

static void
test_open_resize(void)
{
	struct zc_pipe p;
	size_t max = proc_max();
	int sv[2];

	CHECK_EQ(zc_pipe_max_size(), max);
	CHECK_EQ(zc_pipe_open(&p, 0), 0);
	CHECK(p.rfd >= 0 && p.wfd >= 0);
	CHECK_EQ(p.len, 0);
	CHECK_EQ(p.size, zc_pipe_fd_size(p.rfd));
	CHECK(fcntl(p.rfd, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(p.wfd, F_GETFD) & FD_CLOEXEC);
	CHECK(!(fcntl(p.rfd, F_GETFL) & O_NONBLOCK));

	CHECK_EQ(zc_pipe_resize(&p, 0), max);
	CHECK_EQ(p.size, max);
	CHECK_EQ(zc_pipe_fd_size(p.wfd), max);
	CHECK_EQ(zc_pipe_resize(&p, 4096), 4096);
	CHECK_EQ(p.size, 4096);
	CHECK_EQ(zc_pipe_resize(&p, 10000), 16384);	/* rounds up */
	CHECK_EQ(zc_pipe_resize(&p, max * 4), max);	/* clamped */
	CHECK_EQ(zc_pipe_fd_resize(p.rfd, 65536), 65536);
	zc_pipe_close(&p);
	CHECK_EQ(p.rfd, -1);
	CHECK_EQ(p.wfd, -1);

	CHECK_EQ(zc_pipe_open(&p, ZC_PIPE_NONBLOCK), 0);
	CHECK(fcntl(p.rfd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(p.wfd, F_GETFL) & O_NONBLOCK);
	zc_pipe_close(&p);
	zc_pipe_close(&p);	/* twice is harmless */

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		DIE("socketpair");
	CHECK_EQ(zc_pipe_fd_size(sv[0]), -EINVAL);
	CHECK_EQ(zc_pipe_fd_resize(sv[0], 0), -EINVAL);
	close(sv[0]);
	close(sv[1]);
	CHECK_EQ(zc_pipe_fd_size(sv[0]), -EBADF);
	CHECK_EQ(zc_pipe_fd_resize(-1, 0), -EBADF);
}

/*
 * EPERM: an unprivileged user over pipe-user-pages-soft cannot grow a
 * pipe; resize answers with the size in force instead of failing. Run
 * as root, the test drops to nobody in a child.
 */
static void
test_resize_eperm(void)
{
	struct zc_pipe p[200];
	ssize_t r = 0;
	pid_t pid;
	int i, n, status, refused = 0;

	if (geteuid() != 0)
		return;
	if ((pid = fork()) == -1)
		DIE("fork");
	if (pid == 0) {
		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(77);
		for (n = 0; n < 200; n++) {
			if (zc_pipe_open(&p[n], 0) < 0)
				_exit(2);
			r = zc_pipe_resize(&p[n], 0);
			if (r < 0 || r != zc_pipe_fd_size(p[n].rfd) ||
			    (size_t)r != p[n].size)
				_exit(3);
			if ((size_t)r < zc_pipe_max_size()) {
				refused = 1;
				break;
			}
		}
		for (i = 0; i < n && i < 200; i++)
			zc_pipe_close(&p[i]);
		_exit(refused ? 0 : 4);
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return;
	CHECK_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

/* Shrinking below what the pipe holds: the size stays big enough. */
static void
test_resize_busy(void)
{
	struct zc_pipe p, src;
	ssize_t r;
	int null;

	CHECK_EQ(zc_pipe_open(&p, 0), 0);
	CHECK_EQ(zc_pipe_open(&src, 0), 0);
	CHECK(zc_pipe_resize(&p, 256 * 1024) >= 128 * 1024);
	CHECK(zc_pipe_resize(&src, 256 * 1024) >= 128 * 1024);
	CHECK_EQ(pattern_write(src.wfd, 128 * 1024, 1), 0);
	close(src.wfd);
	src.wfd = -1;
	CHECK_EQ(zc_pipe_fill(&p, src.rfd, 128 * 1024, 0), 128 * 1024);
	CHECK_EQ(p.len, 128 * 1024);
	r = zc_pipe_resize(&p, 4096);
	CHECK(r >= 128 * 1024);
	CHECK_EQ(r, zc_pipe_fd_size(p.rfd));
	CHECK_EQ(p.size, r);
	CHECK_EQ(zc_pipe_fill(&p, src.rfd, 1, ZC_MOVE_WAIT), -EAGAIN); /* full */
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		DIE("/dev/null");
	CHECK_EQ(zc_pipe_drain(&p, null, 1 << 20, 0), 128 * 1024);
	CHECK_EQ(p.len, 0);
	CHECK_EQ(zc_pipe_fill(&p, src.rfd, 1, 0), 0);	/* EOF */
	close(null);
	zc_pipe_close(&p);
	zc_pipe_close(&src);
}

/* Checks that fd yields exactly the first len bytes for seed. */
static void
check_stream(int fd, uint64_t len, unsigned seed)
{
	uint64_t count, hash;

	CHECK_EQ(drain_hash(fd, &count, &hash), 0);
	CHECK_EQ(count, len);
	CHECK(hash == pattern_hash(len, seed));
}

static void
test_fill_drain_pipes(void)
{
	struct zc_pipe p, a, b;
	ssize_t n;

	CHECK_EQ(zc_pipe_open(&p, 0), 0);
	CHECK_EQ(zc_pipe_open(&a, 0), 0);
	CHECK_EQ(zc_pipe_open(&b, 0), 0);
	zc_pipe_resize(&a, 256 * 1024);
	zc_pipe_resize(&b, 256 * 1024);
	CHECK_EQ(p.size, 65536);

	CHECK_EQ(pattern_write(a.wfd, 100000, 2), 0);
	/* A limit. */
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 10, 0), 10);
	CHECK_EQ(p.len, 10);
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 0, 0), 0);
	/*
	 * Up to what the pipe takes, then EAGAIN without waiting. Pipes
	 * count slots, not bytes: the 10 bytes took a slot of their own.
	 */
	n = zc_pipe_fill(&p, a.rfd, 1 << 20, 0);
	CHECK(n > 60000 && n <= 65536 - 10);
	CHECK_EQ(p.len, 10 + n);
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 1 << 20, 0), -EAGAIN);
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 1 << 20, ZC_MOVE_WAIT), -EAGAIN);
	CHECK_EQ(p.len, 10 + n);
	/* Drain part, then everything the pipe holds. */
	CHECK_EQ(zc_pipe_drain(&p, b.wfd, 1000, 0), 1000);
	CHECK_EQ(p.len, 10 + n - 1000);
	CHECK_EQ(zc_pipe_drain(&p, b.wfd, 1 << 20, 0), 10 + n - 1000);
	CHECK_EQ(p.len, 0);
	CHECK_EQ(zc_pipe_drain(&p, b.wfd, 1 << 20, ZC_MOVE_WAIT), 0);
	/* The rest, with the writer gone: the count, then EOF. */
	close(a.wfd);
	a.wfd = -1;
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 1 << 20, 0), 100000 - 10 - n);
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 1 << 20, 0), 0);
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 1 << 20, ZC_MOVE_WAIT), 0);
	CHECK_EQ(zc_pipe_drain(&p, b.wfd, 1 << 20, ZC_MOVE_MORE),
	    100000 - 10 - n);
	close(b.wfd);
	b.wfd = -1;
	check_stream(b.rfd, 100000, 2);

	/* Non-blocking and empty: EAGAIN. */
	zc_pipe_close(&a);
	CHECK_EQ(zc_pipe_open(&a, ZC_PIPE_NONBLOCK), 0);
	CHECK_EQ(zc_pipe_fill(&p, a.rfd, 100, 0), -EAGAIN);
	/* A blocking but empty source pipe: EAGAIN too (nothing is ready). */
	zc_pipe_close(&b);
	CHECK_EQ(zc_pipe_open(&b, 0), 0);
	CHECK_EQ(zc_pipe_fill(&p, b.rfd, 100, 0), -EAGAIN);
	/* A foreign pipe (only its read end known): drain says EAGAIN. */
	{
		struct zc_pipe f = { .rfd = a.rfd, .wfd = -1 };
		n = zc_pipe_drain(&f, b.wfd, 100, 0);
		CHECK_EQ(n, -EAGAIN);
		CHECK_EQ(pattern_write(a.wfd, 3000, 3), 0);
		CHECK_EQ(zc_pipe_drain(&f, b.wfd, 1 << 20, 0), 3000);
		CHECK_EQ(f.len, 0);
		close(b.wfd);
		b.wfd = -1;
		check_stream(b.rfd, 3000, 3);
	}
	zc_pipe_close(&p);
	zc_pipe_close(&a);
	zc_pipe_close(&b);
}

static void
test_socketpair(void)
{
	struct zc_pipe p;
	int sv[2], tv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, tv) == -1)
		DIE("socketpair");
	CHECK_EQ(zc_pipe_open(&p, 0), 0);
	CHECK_EQ(zc_pipe_fill(&p, sv[0], 100, 0), -EAGAIN);
	CHECK_EQ(pattern_write(sv[1], 5000, 4), 0);
	CHECK_EQ(zc_pipe_fill(&p, sv[0], 1 << 20, 0), 5000);
	CHECK_EQ(p.len, 5000);
	CHECK_EQ(zc_pipe_drain(&p, tv[0], 1 << 20, 0), 5000);
	CHECK_EQ(p.len, 0);
	shutdown(tv[0], SHUT_WR);
	check_stream(tv[1], 5000, 4);
	/* The peer is gone: EOF. */
	close(sv[1]);
	CHECK_EQ(zc_pipe_fill(&p, sv[0], 100, 0), 0);
	close(sv[0]);
	close(tv[0]);
	close(tv[1]);
	zc_pipe_close(&p);
}

static void
test_tee(void)
{
	struct zc_pipe p, q, src;
	unsigned char buf[4096];

	CHECK_EQ(zc_pipe_open(&p, 0), 0);
	CHECK_EQ(zc_pipe_open(&q, 0), 0);
	CHECK_EQ(zc_pipe_open(&src, 0), 0);
	CHECK_EQ(zc_pipe_tee(&q, &p, 100, 0), 0);	/* p known empty */
	CHECK_EQ(pattern_write(src.wfd, 3000, 5), 0);
	close(src.wfd);
	src.wfd = -1;
	CHECK_EQ(zc_pipe_fill(&p, src.rfd, 1 << 20, 0), 3000);
	CHECK_EQ(zc_pipe_tee(&q, &p, 10, 0), 10);
	CHECK_EQ(q.len, 10);
	CHECK_EQ(p.len, 3000);
	/* A tee always starts at the head of p: drain q before the next. */
	CHECK_EQ(read(q.rfd, buf, sizeof(buf)), 10);
	q.len = 0;
	CHECK_EQ(zc_pipe_tee(&q, &p, 1 << 20, ZC_MOVE_WAIT), 3000);
	CHECK_EQ(q.len, 3000);
	CHECK_EQ(p.len, 3000);
	close(q.wfd);
	q.wfd = -1;
	check_stream(q.rfd, 3000, 5);
	close(p.wfd);
	p.wfd = -1;
	check_stream(p.rfd, 3000, 5);

	/* A full destination of our own: EAGAIN even when waiting. */
	zc_pipe_close(&p);
	zc_pipe_close(&q);
	zc_pipe_close(&src);
	CHECK_EQ(zc_pipe_open(&p, 0), 0);
	CHECK_EQ(zc_pipe_open(&q, 0), 0);
	CHECK_EQ(zc_pipe_open(&src, 0), 0);
	CHECK_EQ(pattern_write(src.wfd, 65536, 6), 0);
	CHECK_EQ(zc_pipe_fill(&q, src.rfd, 65536, 0), 65536);
	CHECK_EQ(pattern_write(src.wfd, 100, 6), 0);
	CHECK_EQ(zc_pipe_fill(&p, src.rfd, 100, 0), 100);
	CHECK_EQ(zc_pipe_tee(&q, &p, 100, ZC_MOVE_WAIT), -EAGAIN);
	zc_pipe_close(&p);
	zc_pipe_close(&q);
	zc_pipe_close(&src);
}

struct writer {
	int fd;
	uint64_t len;
	unsigned seed;
	int pieces;
	int delay_ms;
};

/* Writes w->len pattern bytes in pieces with pauses, then closes. */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[65536];
	uint64_t off = 0, piece = w->len / (uint64_t)w->pieces + 1;
	size_t n, done;
	ssize_t r;

	while (off < w->len) {
		msleep(w->delay_ms);
		n = w->len - off < piece ? (size_t)(w->len - off) : (size_t)piece;
		if (n > sizeof(buf))
			n = sizeof(buf);
		pattern_fill(buf, n, off, w->seed);
		for (done = 0; done < n; done += (size_t)r) {
			r = write(w->fd, buf + done, n - done);
			if (r < 0 && errno == EAGAIN) {
				zc_wait(-1, w->fd, -1);
				r = 0;
			} else if (r < 0) {
				return NULL;
			}
		}
		off += n;
	}
	close(w->fd);
	return NULL;
}

struct reader {
	int fd;
	int delay_ms;
	uint64_t count, hash;
};

/* Reads slowly (small reads with pauses) until end of input. */
static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[8192];
	ssize_t n;

	r->count = 0;
	r->hash = HASH_INIT;
	for (;;) {
		n = read(r->fd, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN) {
			zc_wait(r->fd, -1, -1);
			continue;
		}
		if (n <= 0)
			break;
		r->hash = hash_add(r->hash, buf, (size_t)n);
		r->count += (uint64_t)n;
		if (r->count % (64 * 1024) < sizeof(buf))
			msleep(r->delay_ms);
	}
	close(r->fd);
	return NULL;
}

/* ZC_MOVE_WAIT with a slow writer on a non-blocking source and a slow
 * reader on a small non-blocking destination. */
static void
test_wait(void)
{
	struct zc_pipe p, a, b;
	struct writer w;
	struct reader rd;
	pthread_t wt, rt;
	uint64_t total = 0;
	ssize_t n, m;
	int rounds = 0;

	CHECK_EQ(zc_pipe_open(&p, 0), 0);
	CHECK_EQ(zc_pipe_open(&a, ZC_PIPE_NONBLOCK), 0);
	CHECK_EQ(zc_pipe_open(&b, ZC_PIPE_NONBLOCK), 0);
	zc_pipe_resize(&b, 4096);
	w = (struct writer){ a.wfd, 300000, 7, 6, 15 };
	rd = (struct reader){ .fd = b.rfd, .delay_ms = 5 };
	a.wfd = -1;
	b.rfd = -1;
	if (pthread_create(&wt, NULL, writer_main, &w) != 0 ||
	    pthread_create(&rt, NULL, reader_main, &rd) != 0)
		DIE("pthread_create");
	for (;;) {
		n = zc_pipe_fill(&p, a.rfd, 1 << 20, ZC_MOVE_WAIT);
		CHECK(n >= 0);
		if (n <= 0)
			break;
		m = zc_pipe_drain(&p, b.wfd, (size_t)n, ZC_MOVE_WAIT);
		CHECK_EQ(m, n);
		CHECK_EQ(p.len, 0);
		total += (uint64_t)n;
		rounds++;
	}
	close(b.wfd);
	b.wfd = -1;
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	CHECK_EQ(total, 300000);
	CHECK_EQ(rd.count, 300000);
	CHECK(rd.hash == pattern_hash(300000, 7));
	CHECK(rounds >= 2);
	zc_pipe_close(&p);
	zc_pipe_close(&a);
	zc_pipe_close(&b);

	/* A foreign source pipe with WAIT: waits for all of max. */
	CHECK_EQ(zc_pipe_open(&a, ZC_PIPE_NONBLOCK), 0);
	CHECK_EQ(zc_pipe_open(&b, 0), 0);
	zc_pipe_resize(&b, 256 * 1024);
	w = (struct writer){ a.wfd, 90000, 8, 3, 10 };
	a.wfd = -1;
	if (pthread_create(&wt, NULL, writer_main, &w) != 0)
		DIE("pthread_create");
	{
		struct zc_pipe f = { .rfd = a.rfd, .wfd = -1 };
		CHECK_EQ(zc_pipe_drain(&f, b.wfd, 90000, ZC_MOVE_WAIT), 90000);
	}
	pthread_join(wt, NULL);
	close(b.wfd);
	b.wfd = -1;
	check_stream(b.rfd, 90000, 8);
	zc_pipe_close(&a);
	zc_pipe_close(&b);
}

static void
test_zc_wait(void)
{
	struct zc_pipe a;
	long long t;
	int fd;

	CHECK_EQ(zc_wait(-1, -1, 0), 0);
	CHECK_EQ(zc_pipe_open(&a, 0), 0);
	CHECK_EQ(zc_wait(-1, a.wfd, 0), 0);
	CHECK_EQ(zc_wait(a.rfd, -1, 0), -ETIMEDOUT);
	t = now_ms();
	CHECK_EQ(zc_wait(a.rfd, a.wfd, 60), -ETIMEDOUT);
	CHECK(now_ms() - t >= 50);
	CHECK_EQ(write(a.wfd, "x", 1), 1);
	CHECK_EQ(zc_wait(a.rfd, a.wfd, -1), 0);
	/* A full pipe is not writable. */
	zc_pipe_resize(&a, 4096);
	fcntl(a.wfd, F_SETFL, O_NONBLOCK);
	while (write(a.wfd, "0123456789abcdef", 16) > 0)
		;
	CHECK_EQ(zc_wait(a.rfd, a.wfd, 20), -ETIMEDOUT);
	/* A pipe whose writer is gone hangs up, which counts as ready. */
	close(a.wfd);
	a.wfd = -1;
	zc_pipe_close(&a);
	CHECK_EQ(zc_pipe_open(&a, 0), 0);
	close(a.wfd);
	a.wfd = -1;
	CHECK_EQ(zc_wait(a.rfd, -1, 1000), 0);
	fd = a.rfd;
	zc_pipe_close(&a);
	CHECK_EQ(zc_wait(fd, -1, 0), -EBADF);
}

int
main(void)
{
	int base = fd_count();

	test_version();
	test_open_resize();
	test_resize_busy();
	test_resize_eperm();
	test_fill_drain_pipes();
	test_socketpair();
	test_tee();
	test_wait();
	test_zc_wait();
	CHECK_EQ(fd_count(), base);
	if (failures > 0) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
