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

/*
 * The measured method choice (policy.c), shared by the flows and
 * zc_transfer. Where splice and copy compete, the candidate methods run
 * in alternating phases, each measured by what the user pays per byte
 * (wall time while not idle on the source, and this thread's CPU); of
 * the methods not clearly slower the one with the least CPU is used for
 * a longer while, and the others are probed again after it, less often
 * while it keeps winning.
 */
enum zc__pm {
	ZC__PM_SPLICE,		/* splice in, splice out */
	ZC__PM_COPY,		/* splice in, read the pipe, write out */
	ZC__PM_RW,		/* read in, write out */
	ZC__PM_COUNT
};

#define ZC__PM_BIT(m)	(1u << (m))
#define ZC__PM_CLASSES	5	/* chunk size classes: < 4, 16, 64, 256 KiB, more */

/* What earlier flows of one loop learned about one kind of path and
 * chunk class: the method that won last. */
struct zc__hint {
	uint8_t valid;
	uint8_t best;
};

/* The hints for one kind of path, one per chunk class, and the class
 * decided last (a new flow starts from it). */
struct zc__hints {
	struct zc__hint cls[ZC__PM_CLASSES];
	uint8_t last;
};

struct zc__policy {
	unsigned cand;		/* ZC__PM_BIT of each candidate; 0: off */
	int cur;		/* method of the running phase */
	int want;		/* method asked for (== cur unless pending) */
	int pending;		/* a switch is asked for and not yet made */
	int best;		/* last decision's winner; -1: none yet */
	int probing;		/* the running phase is a probe */
	int warm;		/* the first phase: not measured */
	unsigned left;		/* candidates still to probe this round */
	unsigned mult;		/* exploit phases last this many probes */
	uint64_t ref;		/* the winner's average move in its round */
	uint64_t mavg[ZC__PM_COUNT];	/* each method's in its last phase */
	uint64_t bytes, moves;	/* this phase, after its first move */
	uint64_t cbytes, cmoves;	/* at the last clock read */
	int64_t wall0, cpu0;	/* ns at the phase's first move; 0: none */
	int64_t idle;		/* ns idle on the source in this phase */
	double wall[ZC__PM_COUNT];	/* each method's wall ns per byte */
	double cpu[ZC__PM_COUNT];	/* and CPU ns per byte (running
					   means); 0: not measured */
	unsigned decisions;	/* rounds decided */
	struct zc__hints *hints;	/* shared with other flows, or NULL */
};

/* Starts p with the candidates cand (fewer than two: p is off and
 * p->cur is the one, or ZC__PM_RW with none), from hints when they
 * know. */
void zc__policy_init(struct zc__policy *p, unsigned cand,
    struct zc__hints *hints);

/* Counts n bytes delivered by p->cur; returns 1 when p asks for
 * another method (p->want, p->pending), else 0. */
int zc__policy_moved(struct zc__policy *p, size_t n);

/* The asked-for switch is made: p->want is the method from now on. */
void zc__policy_switched(struct zc__policy *p);

/* ns were spent idle, waiting for the source with nothing to deliver. */
void zc__policy_idle(struct zc__policy *p, int64_t ns);

/* The monotonic clock in nanoseconds. */
static inline int64_t
zc__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Grows the pipe behind fd to size bytes (0 or above pipe-max-size: to
 * pipe-max-size), never shrinking it. EPERM (the user's pipe pages are
 * at fs.pipe-user-pages-soft) makes it try halves down to the current
 * size and sets *refused (refused may be NULL). Returns the capacity in
 * force afterwards, or -errno when fd is not a pipe. */
ssize_t zc__pipe_grow(int fd, size_t size, bool *refused);

/* The decimal number that the file at path (a /proc/sys entry) starts
 * with, or 0 when it cannot be read. */
unsigned long long zc__proc_number(const char *path);

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
