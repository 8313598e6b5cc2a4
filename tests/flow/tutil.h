/*
 * tutil.h: helpers for the flow tests: a seeded byte stream, endpoints
 * of every kind with forked peers that check what they get, fd counts.
 */
#ifndef TUTIL_H
#define TUTIL_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
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

static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
static char tmpdir[256];

static inline uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Fills p with bytes off .. off+len of the stream named by seed. */
static inline void
gen(uint64_t seed, uint64_t off, unsigned char *p, size_t len)
{
	uint64_t w = 0;
	size_t i = 0;

	seed *= 0x100000001b3ULL;
	for (; i < len && off % 8; i++, off++) {
		w = mix64(seed + off / 8);
		p[i] = w >> (8 * (off % 8));
	}
	for (; i + 8 <= len; i += 8, off += 8) {
		w = mix64(seed + off / 8);
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++, off++) {
		w = mix64(seed + off / 8);
		p[i] = w >> (8 * (off % 8));
	}
}

/* Writes size bytes of stream seed to fd, chunk bytes at a time (0:
 * 64 KiB) with pause between; returns 0 or -1. */
static inline int
write_stream(int fd, uint64_t seed, uint64_t size, size_t chunk,
    useconds_t pause)
{
	unsigned char buf[65536];
	uint64_t off = 0;
	size_t n;
	ssize_t w;

	while (off < size) {
		n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		if (chunk && n > chunk)
			n = chunk;
		gen(seed, off, buf, n);
		if ((w = write(fd, buf, n)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		off += w;
		if (pause)
			usleep(pause);
	}
	return 0;
}

/* Reads fd to its end, checking it is exactly size bytes of stream
 * seed; reads chunk bytes at a time with pause between (0: none), or
 * only stop bytes before closing (a reader that goes away). Returns
 * 0 when it matches, 1 on a wrong byte, 2 on a wrong length. */
static inline int
check_stream(int fd, uint64_t seed, uint64_t size, size_t chunk,
    useconds_t pause)
{
	unsigned char buf[65536], want[65536];
	uint64_t off = 0;
	ssize_t n;

	if (chunk == 0 || chunk > sizeof(buf))
		chunk = sizeof(buf);
	for (;;) {
		n = read(fd, buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 3;
		if (n == 0)
			break;
		if (off + n > size)
			return 2;
		gen(seed, off, want, n);
		if (memcmp(buf, want, n) != 0)
			return 1;
		off += n;
		if (pause)
			usleep(pause);
	}
	return off == size ? 0 : 2;
}

/* Closes every descriptor from 3 up except keep; returns keep's new
 * number. */
static inline int
close_others(int keep)
{
	if (keep != 3) {
		if (dup2(keep, 3) == -1)
			_exit(4);
		keep = 3;
	}
	if (close_range(4, ~0U, 0) == -1) {
		int fd;

		for (fd = 4; fd < 1024; fd++)
			close(fd);
	}
	return keep;
}

/* Forks a child that checks the stream coming in on fd; returns its
 * pid. The parent keeps nothing of fd. */
static inline pid_t
spawn_checker(int fd, uint64_t seed, uint64_t size, size_t chunk,
    useconds_t pause)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		alarm(60);
		fd = close_others(fd);
		_exit(check_stream(fd, seed, size, chunk, pause));
	}
	close(fd);
	return pid;
}

/* Forks a child that writes stream seed to fd and exits. */
static inline pid_t
spawn_writer(int fd, uint64_t seed, uint64_t size, size_t chunk,
    useconds_t pause)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		alarm(60);
		signal(SIGPIPE, SIG_DFL);
		fd = close_others(fd);
		_exit(write_stream(fd, seed, size, chunk, pause) ? 1 : 0);
	}
	close(fd);
	return pid;
}

/* Forks a child that reads take bytes from fd, then closes it. */
static inline pid_t
spawn_quitter(int fd, size_t take)
{
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		alarm(60);
		fd = close_others(fd);
		while (got < take && (n = read(fd, buf,
		    take - got < sizeof(buf) ? take - got : sizeof(buf))) > 0)
			got += n;
		_exit(0);
	}
	close(fd);
	return pid;
}

/* Waits for pid; returns its exit status, or 128+signal. */
static inline int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* A connected TCP pair on 127.0.0.1: *a connects, *b is accepted;
 * with bufsize, both get buffers that small (no autotuning). */
static inline int
tcp_pair_buf(int *a, int *b, int bufsize)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bufsize && setsockopt(l, SOL_SOCKET, SO_RCVBUF, &bufsize,
	    sizeof(bufsize)) == -1)
		goto fail;
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1)
		goto fail;
	if ((*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (bufsize && setsockopt(*a, SOL_SOCKET, SO_SNDBUF, &bufsize,
	    sizeof(bufsize)) == -1)
		goto fail;
	if (connect(*a, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto fail;
	if ((*b = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		goto fail;
	close(l);
	return 0;
fail:
	close(l);
	return -1;
}

static inline int
tcp_pair(int *a, int *b)
{
	return tcp_pair_buf(a, b, 0);
}

/* Source kinds the flow tests read from. */
enum { SRC_PIPE, SRC_FILE, SRC_SOCK, SRC_TCP, SRC_NKINDS };

/* Opens a source of kind srck that yields stream seed of size bytes: a
 * file written under dir, or a pipe, socketpair or TCP connection fed
 * by a forked writer (*wpid, else -1). Returns the fd; exits on failure. */
static inline int
open_source(int srck, const char *dir, uint64_t seed, uint64_t size,
    pid_t *wpid)
{
	char path[300];
	int p[2], fd;

	*wpid = -1;
	switch (srck) {
	case SRC_FILE:
		snprintf(path, sizeof(path), "%s/src", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd == -1 || write_stream(fd, seed, size, 0, 0) == -1)
			exit(1);
		close(fd);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			exit(1);
		return fd;
	case SRC_PIPE:
		if (pipe2(p, O_CLOEXEC) == -1)
			exit(1);
		break;
	case SRC_SOCK:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
			exit(1);
		break;
	default:
		if (tcp_pair(&p[0], &p[1]) == -1)
			exit(1);
		break;
	}
	*wpid = spawn_writer(p[1], seed, size, 0, 0);
	return p[0];
}

/* Checks that file path holds exactly stream seed of size bytes. */
static inline int
check_file(const char *path, uint64_t seed, uint64_t size)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 3;
	r = check_stream(fd, seed, size, 0, 0);
	close(fd);
	return r;
}

/* The number of open descriptors. */
static inline int
fd_count(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;
}

static inline void
make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/zcflow.XXXXXX", t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static inline void
remove_tmpdir(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* Sums of the per-method counts match the totals. */
static inline int
stats_exact(const struct zc_stats *st)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < ZC_METHOD_COUNT; i++)
		sum += st->by_method[i];
	return sum == st->bytes;
}

#endif
