/* Helpers shared between the library's files; not installed. */
#ifndef ZC_INTERNAL_H
#define ZC_INTERNAL_H

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "zerocopy.h"

#define ZC__BUF_SIZE (128u * 1024)	/* default read/write buffer */

/* What the method choice needs to know about a descriptor. */
struct zc__fdinfo {
	enum zc_kind kind;
	bool blk;		/* block device (kind ZC_KIND_OTHER) */
	bool append;		/* O_APPEND: no splice, sendfile, copy_file_range */
	bool nonblock;		/* O_NONBLOCK */
	bool rdonly;		/* O_RDONLY: cannot be written */
	bool wronly;		/* O_WRONLY: cannot be read */
	bool tcp;		/* a TCP socket */
};

/* Whether fd is a TCP socket. */
bool zc__is_tcp(int fd);

/* The kind of fd, whose fstat(2) is sb. */
enum zc_kind zc__kind(int fd, const struct stat *sb);

/* The monotonic clock in milliseconds. */
static inline int64_t
zc__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Grows the pipe behind fd to size bytes (0 or above pipe-max-size: to
 * pipe-max-size), never shrinking it. EPERM (the user's pipe pages are
 * at fs.pipe-user-pages-soft) makes it try halves down to the current
 * size and sets *refused (refused may be NULL). Returns the capacity in
 * force afterwards, or -errno when fd is not a pipe. */
ssize_t zc__pipe_grow(int fd, size_t size, bool *refused);

/* The monotonic clock in microseconds. */
static inline int64_t
zc__now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fills fi for fd (one fstat and one F_GETFL); returns 0 or -errno. */
int zc__classify(int fd, struct zc__fdinfo *fi);

/* Whether err (positive) means "this method does not work here, use
 * another one" rather than a real failure. */
static inline bool
zc__unsupported(int err)
{
	return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP ||
	    err == EXDEV;
}

/* A token bucket for a byte rate (rate.c). */
struct zc__rate {
	uint64_t rate;		/* bytes per second */
	uint64_t burst;		/* the most the bucket holds */
	uint64_t quantum;	/* the least it grants at once */
	double tokens;
	int64_t t_us;		/* when tokens was counted; -1: not yet */
	uint64_t taken;		/* the caller's count then */
};

/* A full bucket for rate bytes per second (> 0). */
void zc__rate_init(struct zc__rate *r, uint64_t rate);

/* How many bytes may be taken at now_us, given that the caller's count of
 * bytes taken so far is taken and that left bytes remain to its limit:
 * the bucket's content, or 0 when it holds less than a quantum (or
 * left), with *wait_us set to how long until it does. */
uint64_t zc__rate_room(struct zc__rate *r, uint64_t taken, int64_t now_us,
    uint64_t left, int64_t *wait_us);

#endif
