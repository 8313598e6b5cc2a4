/* Small helpers for the core tests: checks, data, descriptor counts. */
#ifndef TESTS_CORE_HELPERS_H
#define TESTS_CORE_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		failures++;						\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
		    __FILE__, __LINE__, #a, a_, #b, b_);		\
		failures++;						\
	}								\
} while (0)

#define DIE(what) do {							\
	fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, what,	\
	    strerror(errno));						\
	exit(1);							\
} while (0)

/* The monotonic clock in milliseconds. */
static inline long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms milliseconds, through signals. */
static inline void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The number of open descriptors of this process. */
static int
fd_count(void)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		DIE("opendir /proc/self/fd");
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* Byte i of the test stream for a seed. */
static inline unsigned char
pattern_byte(uint64_t i, unsigned seed)
{
	uint64_t x = (i / 8 + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (unsigned char)(x >> ((i % 8) * 8));
}

static void
pattern_fill(unsigned char *buf, size_t len, uint64_t off, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(off + i, seed);
}

/* A running FNV-1a hash of a byte stream. */
static inline uint64_t
hash_add(uint64_t h, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define HASH_INIT 0xcbf29ce484222325ull

/* The hash of the first len bytes of the stream for seed. */
static uint64_t
pattern_hash(uint64_t len, unsigned seed)
{
	unsigned char buf[8192];
	uint64_t h = HASH_INIT, off = 0;
	size_t n;

	while (off < len) {
		n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		pattern_fill(buf, n, off, seed);
		h = hash_add(h, buf, n);
		off += n;
	}
	return h;
}

/* Writes the first len bytes of the stream for seed to fd; 0 or -1. */
static int
pattern_write(int fd, uint64_t len, unsigned seed)
{
	unsigned char buf[16384];
	uint64_t off = 0;
	size_t n, w;
	ssize_t r;

	while (off < len) {
		n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		pattern_fill(buf, n, off, seed);
		for (w = 0; w < n; w += (size_t)r) {
			r = write(fd, buf + w, n - w);
			if (r < 0 && errno == EINTR)
				r = 0;
			else if (r < 0)
				return -1;
		}
		off += n;
	}
	return 0;
}

/* Reads fd to its end; stores the count and hash; 0 or -1. */
static int
drain_hash(int fd, uint64_t *count, uint64_t *hash)
{
	unsigned char buf[16384];
	ssize_t n;

	*count = 0;
	*hash = HASH_INIT;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		*hash = hash_add(*hash, buf, (size_t)n);
		*count += (uint64_t)n;
	}
}

#endif
