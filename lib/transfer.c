#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CFR_CHUNK ((size_t)64 << 20)	/* per copy_file_range(2) */
#define SENDFILE_CHUNK ((size_t)16 << 20)	/* per sendfile(2) */
#define SPLICE_CHUNK ((size_t)64 << 10)	/* when no pipe size is known */
#define SMALL_CHUNK ((size_t)8 << 10)	/* below this, read/write is faster */
#define IDLE_NS (50 * 1000000LL)	/* a longer wait on the source is idle */

/* Ways to move bytes into a socket besides the zc_method ones. */
enum {
	M_MEASURED = ZC_METHOD_COUNT,	/* the measured choice (policy.c) */
	M_COPY_OUT,			/* splice in, read, write */
	M_PLAN_MAX
};

/* What a method answers besides -errno. */
enum {
	DONE,		/* end of input or limit reached */
	NEXT		/* the method does not work here: try the next one */
};

struct xfer {
	int dst, src;
	struct zc__fdinfo di, si;
	uint64_t left;		/* bytes still to read */
	size_t chunk;		/* per splice(2) between caller's pipes */
	struct zc_stats *st;
	const struct zc_transfer_opts *o;
	struct zc_pipe pipe;	/* owned; rfd -1 when there is none */
	char *buf;
	size_t bufsz;
	struct zc__policy *pol;	/* m_measured's, while it runs */
	uint64_t limit;
	bool paced;		/* ZC_XFER_RATE: reads wait for the bucket */
	struct zc__rate rate;
	uint64_t allow;		/* what the bucket granted for the next read */
	int tick_ms;		/* ZC_XFER_TICK; 0: none */
	int64_t next_tick;	/* us */
};

int
zc__classify(int fd, struct zc__fdinfo *fi)
{
	struct stat sb;
	int fl;

	if (fstat(fd, &sb) == -1 || (fl = fcntl(fd, F_GETFL)) == -1)
		return -errno;
	memset(fi, 0, sizeof(*fi));
	fi->kind = zc__kind(fd, &sb);
	fi->blk = S_ISBLK(sb.st_mode);
	/* Pipes take splice(2) with O_APPEND; nothing else does. */
	fi->append = (fl & O_APPEND) && !S_ISFIFO(sb.st_mode);
	fi->nonblock = fl & O_NONBLOCK;
	fi->rdonly = (fl & O_ACCMODE) == O_RDONLY;
	fi->wronly = (fl & O_ACCMODE) == O_WRONLY;
	fi->tcp = fi->kind == ZC_KIND_SOCKET && zc__is_tcp(fd);
	return 0;
}

bool
zc__is_tcp(int fd)
{
	int proto;
	socklen_t len = sizeof(proto);

	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
	    proto == IPPROTO_TCP;
}

/* How much the next read may ask for: chunk, or less when the limit or
 * the rate says so. */
static size_t
want(const struct xfer *x, size_t chunk)
{
	if (x->paced && x->allow < chunk)
		chunk = (size_t)x->allow;
	return x->left < chunk ? (size_t)x->left : chunk;
}

static void
deliver(struct xfer *x, enum zc_method m, size_t n)
{
	x->st->bytes += n;
	x->st->by_method[m] += n;
	if (x->o->progress != NULL)
		x->o->progress(x->o->arg, x->st);
}

static int
fail(struct xfer *x, enum zc_side side, int err)
{
	x->st->err_side = side;
	return -err;
}

/* Which side an error from a call that reads and writes at once came
 * from. */
static enum zc_side
guess_side(const struct xfer *x, int err)
{
	switch (err) {
	case EPIPE:
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
	case EROFS:
		return ZC_SIDE_DST;
	case ECONNRESET:
	case ENOTCONN:
	case ECONNABORTED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
		return x->si.kind == ZC_KIND_SOCKET ? ZC_SIDE_SRC : ZC_SIDE_DST;
	case EBADF:
		return x->di.rdonly ? ZC_SIDE_DST : ZC_SIDE_SRC;
	}
	return ZC_SIDE_SRC;
}

/* With ZC_XFER_TICK, calls progress when the tick is due. */
static void
tick(struct xfer *x, int64_t now)
{
	if (x->tick_ms <= 0 || now < x->next_tick)
		return;
	x->next_tick = now + (int64_t)x->tick_ms * 1000;
	if (x->o->progress != NULL)
		x->o->progress(x->o->arg, x->st);
}

/* zc_wait on the sides given (-1: not that one; neither: a sleep) for at
 * most timeout_us (< 0: for ever), calling progress on the tick
 * meanwhile; returns 0, -ETIMEDOUT or -errno. */
static int
tick_wait(struct xfer *x, int rfd, int wfd, int64_t timeout_us)
{
	struct timespec ts;
	int64_t now, end, d;
	int r, ms;

	now = zc__now_us();
	end = timeout_us < 0 ? INT64_MAX : now + timeout_us;
	for (;;) {
		d = end - now;
		if (x->tick_ms > 0 && x->next_tick - now < d)
			d = x->next_tick - now;
		if (d < 0)
			d = 0;
		if (rfd < 0 && wfd < 0) {
			ts.tv_sec = d / 1000000;
			ts.tv_nsec = d % 1000000 * 1000;
			ppoll(NULL, 0, &ts, NULL);
			r = -ETIMEDOUT;
		} else {
			ms = d == INT64_MAX ? -1 : d / 1000 >= INT_MAX ?
			    INT_MAX : (int)((d + 999) / 1000);
			r = zc_wait(rfd, wfd, ms);
		}
		if (r != -ETIMEDOUT)
			return r;
		now = zc__now_us();
		tick(x, now);
		if (now >= end)
			return -ETIMEDOUT;
	}
}

/* Waits for the sides given (-1: not that one); returns 0 or -errno. */
static int
xwait(struct xfer *x, int rfd, int wfd)
{
	int64_t t0 = 0, t;
	int r;

	/* m_measured holds nothing while it waits for its source alone:
	 * a long wait there is the peer's, not the method's. */
	if (x->pol != NULL && wfd < 0)
		t0 = zc__now_ns();
	if ((r = tick_wait(x, rfd, wfd, -1)) < 0)
		return fail(x, rfd < 0 ? ZC_SIDE_DST : ZC_SIDE_SRC, -r);
	if (t0 != 0 && (t = zc__now_ns() - t0) >= IDLE_NS)
		zc__policy_idle(x->pol, t);
	return 0;
}

/* With ZC_XFER_TICK, waits for a blocking source (rd) or destination
 * (wr) that is not a file to be ready, so that the tick goes on while
 * it stalls; returns 0 or -errno. */
static int
tick_ready(struct xfer *x, bool rd, bool wr)
{
	int rfd = -1, wfd = -1;

	if (x->tick_ms <= 0)
		return 0;
	if (rd && !x->si.nonblock && x->si.kind != ZC_KIND_FILE && !x->si.blk)
		rfd = x->src;
	if (wr && !x->di.nonblock && x->di.kind != ZC_KIND_FILE && !x->di.blk)
		wfd = x->dst;
	if (rfd < 0 && wfd < 0)
		return 0;
	return xwait(x, rfd, wfd);
}

/* With ZC_XFER_RATE, waits until the bucket grants the next read and
 * sets x->allow. */
static void
pace(struct xfer *x)
{
	int64_t w;

	if (!x->paced)
		return;
	while ((x->allow = zc__rate_room(&x->rate, x->limit - x->left,
	    zc__now_us(), x->left, &w)) == 0)
		tick_wait(x, -1, -1, w);
}

/* What a 0 before the method moved anything means: end of input, or
 * (from a file, procfs and sysfs say size 0) ask the next method. */
static int
zero(const struct xfer *x, uint64_t moved)
{
	if (moved == 0 && (x->si.kind == ZC_KIND_FILE || x->si.blk))
		return NEXT;
	return DONE;
}

/* The answer for a failed call that reads and writes at once. */
static int
both_failed(struct xfer *x, int err)
{
	if (zc__unsupported(err))
		return NEXT;
	return fail(x, guess_side(x, err), err);
}

/* One call of the method m straight from src to dst; returns its result. */
static ssize_t
direct_call(struct xfer *x, enum zc_method m)
{
	switch (m) {
	case ZC_METHOD_COPY_FILE_RANGE:
		return copy_file_range(x->src, NULL, x->dst, NULL,
		    want(x, CFR_CHUNK), 0);
	case ZC_METHOD_SENDFILE:
		return sendfile(x->dst, x->src, NULL, want(x, SENDFILE_CHUNK));
	default:
		return splice(x->src, NULL, x->dst, NULL, want(x, x->chunk), 0);
	}
}

/*
 * copy_file_range, sendfile, or splice(2) when one side is a pipe,
 * straight from src to dst until the end; DONE, NEXT or -errno. The
 * kernel holds the lock of a pipe it splices into while it waits for a
 * blocking socket or terminal to have bytes, which would keep the pipe's
 * reader from the bytes already in it: such a source is polled first.
 */
static int
m_direct(struct xfer *x, enum zc_method m)
{
	uint64_t moved = 0;
	ssize_t n;
	int r;
	bool poll_src = m == ZC_METHOD_SPLICE &&
	    x->di.kind == ZC_KIND_PIPE && !x->si.nonblock &&
	    (x->si.kind == ZC_KIND_SOCKET || x->si.kind == ZC_KIND_TTY ||
	    x->si.kind == ZC_KIND_CHAR);

	while (x->left > 0) {
		pace(x);
		if (poll_src && (r = xwait(x, x->src, -1)) < 0)
			return r;
		if ((r = tick_ready(x, true, true)) < 0)
			return r;
		n = direct_call(x, m);
		if (n > 0) {
			moved += (size_t)n;
			x->left -= (size_t)n;
			deliver(x, m, (size_t)n);
		} else if (n == 0) {
			return zero(x, moved);
		} else if (errno == EAGAIN) {
			if ((r = xwait(x, x->src, x->dst)) < 0)
				return r;
		} else if (m == ZC_METHOD_COPY_FILE_RANGE && errno == EBADF &&
		    !x->si.wronly && !x->di.rdonly) {
			return NEXT;	/* O_APPEND and the like */
		} else if (errno != EINTR) {
			return both_failed(x, errno);
		}
	}
	return DONE;
}

/* Splices everything the owned pipe holds into dst; DONE, NEXT (the
 * bytes stay in the pipe for the next method) or -errno. */
static int
empty_pipe(struct xfer *x)
{
	ssize_t n;
	int r;

	while (x->pipe.len > 0) {
		if ((r = tick_ready(x, false, true)) < 0)
			return r;
		n = splice(x->pipe.rfd, NULL, x->dst, NULL, x->pipe.len, 0);
		if (n > 0) {
			x->pipe.len -= (size_t)n;
			deliver(x, ZC_METHOD_SPLICE_PIPE, (size_t)n);
		} else if (n == 0) {
			return fail(x, ZC_SIDE_DST, EIO);
		} else if (errno == EAGAIN) {
			if ((r = xwait(x, -1, x->dst)) < 0)
				return r;
		} else if (zc__unsupported(errno)) {
			return NEXT;
		} else if (errno != EINTR) {
			return fail(x, ZC_SIDE_DST, errno);
		}
	}
	return DONE;
}

/* Writes all of len bytes from p to dst; returns 0 or -errno. */
static int
write_all(struct xfer *x, const char *p, size_t len)
{
	ssize_t n;
	int r;

	while (len > 0) {
		if ((r = tick_ready(x, false, true)) < 0)
			return r;
		n = write(x->dst, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			deliver(x, ZC_METHOD_READ_WRITE, (size_t)n);
		} else if (n == 0) {
			return fail(x, ZC_SIDE_DST, EIO);
		} else if (errno == EAGAIN) {
			if ((r = xwait(x, -1, x->dst)) < 0)
				return r;
		} else if (errno != EINTR) {
			return fail(x, ZC_SIDE_DST, errno);
		}
	}
	return 0;
}

/* Reads into the buffer from fd; returns the count, 0 or -errno. */
static ssize_t
read_some(struct xfer *x, int fd, size_t len)
{
	ssize_t n;
	int r;

	for (;;) {
		if (fd == x->src && (r = tick_ready(x, true, false)) < 0)
			return r;
		if ((n = read(fd, x->buf, len)) >= 0)
			return n;
		if (errno == EAGAIN) {
			if ((r = xwait(x, fd, -1)) < 0)
				return r;
		} else if (errno != EINTR) {
			return fail(x, ZC_SIDE_SRC, errno);
		}
	}
}

/* Allocates the read/write buffer once; returns 0 or -errno. */
static int
get_buf(struct xfer *x)
{
	if (x->buf != NULL)
		return 0;
	x->bufsz = x->o->buf_size > 0 ? x->o->buf_size : ZC__BUF_SIZE;
	if ((x->buf = malloc(x->bufsz)) == NULL)
		return fail(x, ZC_SIDE_NONE, ENOMEM);
	return 0;
}

/* Opens the owned pipe unless it is open; returns 0, NEXT when there is
 * none worth splicing through (read/write then), or -errno. */
static int
own_pipe(struct xfer *x)
{
	ssize_t sz;

	if (x->pipe.rfd >= 0)
		return 0;
	if (zc_pipe_open(&x->pipe, 0) < 0)
		return NEXT;	/* EMFILE and such: read/write */
	if ((sz = zc_pipe_resize(&x->pipe, x->o->pipe_size)) < 0)
		return fail(x, ZC_SIDE_NONE, (int)-sz);
	/* 2 pages when more was asked: the user is at the kernel's limit
	 * on pipe pages, and such a pipe is slower than read/write. */
	if ((size_t)sz <= 2 * (size_t)sysconf(_SC_PAGESIZE) &&
	    (x->o->pipe_size == 0 || x->o->pipe_size > (size_t)sz)) {
		zc_pipe_close(&x->pipe);
		return NEXT;
	}
	return 0;
}

/*
 * Neither side a pipe: fill the owned pipe, empty it, again. While the
 * source comes in small pieces, two splices cost more than a read and a
 * write: after a small fill, the next chunk goes through the buffer,
 * and back to the pipe once a read brings a big one.
 */
static int
m_splice_pipe(struct xfer *x)
{
	uint64_t moved = 0;
	size_t small;
	ssize_t n;
	int r;
	bool rw = false;

	if ((r = own_pipe(x)) != 0)
		return r;
	small = x->pipe.size / 2 < SMALL_CHUNK ? x->pipe.size / 2 : SMALL_CHUNK;
	while (x->left > 0) {
		pace(x);
		if (rw) {
			if ((r = get_buf(x)) < 0)
				return r;
			if ((n = read_some(x, x->src, want(x, x->bufsz))) <= 0)
				return n < 0 ? (int)n : DONE;
			moved += (size_t)n;
			x->left -= (size_t)n;
			if ((r = write_all(x, x->buf, (size_t)n)) < 0)
				return r;
			rw = (size_t)n < small;
			continue;
		}
		if ((r = tick_ready(x, true, false)) < 0)
			return r;
		n = splice(x->src, NULL, x->pipe.wfd, NULL,
		    want(x, x->pipe.size), 0);
		if (n > 0) {
			moved += (size_t)n;
			x->left -= (size_t)n;
			x->pipe.len = (size_t)n;
			if ((r = empty_pipe(x)) != DONE)
				return r;
			/* Small pieces the rate asked for stay spliced. */
			rw = (size_t)n < small && !x->paced;
		} else if (n == 0) {
			return zero(x, moved);
		} else if (errno == EAGAIN) {
			/* The pipe is empty: only src can be the cause. */
			if ((r = xwait(x, x->src, -1)) < 0)
				return r;
		} else if (zc__unsupported(errno)) {
			return NEXT;
		} else if (errno != EINTR) {
			return fail(x, ZC_SIDE_SRC, errno);
		}
	}
	return DONE;
}

/* Reads everything the owned pipe holds and writes it to dst; returns
 * 0 or -errno. */
static int
copy_pipe(struct xfer *x)
{
	ssize_t n;
	int r;

	if ((r = get_buf(x)) < 0)
		return r;
	while (x->pipe.len > 0) {
		n = read_some(x, x->pipe.rfd,
		    x->pipe.len < x->bufsz ? x->pipe.len : x->bufsz);
		if (n <= 0)
			return n < 0 ? (int)n : fail(x, ZC_SIDE_SRC, EIO);
		x->pipe.len -= (size_t)n;
		if ((r = write_all(x, x->buf, (size_t)n)) < 0)
			return r;
	}
	return 0;
}

/* Moves one chunk by method m from src into dst, delivered whole, and
 * sets *got to its size (0 at the end); x->left counts it as soon as it
 * is taken from src. Returns 0, NEXT when m does not work here (what is
 * in the owned pipe stays there), or -errno. */
static int
measured_chunk(struct xfer *x, int m, bool spipe, size_t *got)
{
	ssize_t n;
	int r;

	*got = 0;
	if (m == ZC__PM_RW || (spipe && m == ZC__PM_COPY)) {
		if ((r = get_buf(x)) < 0)
			return r;
		if ((n = read_some(x, x->src, want(x, x->bufsz))) <= 0)
			return (int)n;
		x->left -= (size_t)n;
		*got = (size_t)n;
		return write_all(x, x->buf, (size_t)n);
	}
	for (;;) {
		if (spipe)
			n = splice(x->src, NULL, x->dst, NULL,
			    want(x, x->chunk), 0);
		else
			n = splice(x->src, NULL, x->pipe.wfd, NULL,
			    want(x, x->pipe.size), 0);
		if (n >= 0)
			break;
		if (errno == EAGAIN) {
			/* Spliced straight, either side may be the cause;
			 * else the owned pipe is empty. */
			if ((r = xwait(x, x->src, spipe ? x->dst : -1)) < 0)
				return r;
		} else if (zc__unsupported(errno)) {
			return NEXT;
		} else if (errno != EINTR) {
			return spipe ? both_failed(x, errno) :
			    fail(x, ZC_SIDE_SRC, errno);
		}
	}
	if (n == 0)
		return 0;
	x->left -= (size_t)n;
	*got = (size_t)n;
	if (spipe) {
		deliver(x, ZC_METHOD_SPLICE, (size_t)n);
		return 0;
	}
	x->pipe.len = (size_t)n;
	if (m == ZC__PM_COPY)
		return copy_pipe(x);
	return empty_pipe(x);	/* DONE is 0 */
}

/*
 * Into a socket from anything but a file: the measured choice (see
 * policy.c) between splicing (straight from a source pipe, else through
 * the owned pipe), copying out of the owned pipe with read and write,
 * and read/write, one chunk at a time; with one candidate (forced),
 * that one. Every chunk is delivered before the next is read, so the
 * method can change between any two. DONE, NEXT or -errno.
 */
static int
m_measured(struct xfer *x, unsigned cand)
{
	struct zc__policy pol;
	uint64_t moved = 0;
	size_t n;
	bool spipe = x->si.kind == ZC_KIND_PIPE;
	int r = DONE;

	if (spipe)
		cand &= ~ZC__PM_BIT(ZC__PM_COPY);	/* that is read/write */
	if (!spipe && (r = own_pipe(x)) != 0)
		return r;
	zc__policy_init(&pol, cand, NULL);
	x->pol = &pol;
	while (x->left > 0) {
		pace(x);	/* forced copy out only: see make_plan */
		if ((r = tick_ready(x, true, false)) < 0 ||
		    (r = measured_chunk(x, pol.cur, spipe, &n)) != 0)
			break;
		if (n == 0) {
			r = zero(x, moved);
			break;
		}
		moved += n;
		if (zc__policy_moved(&pol, n))
			zc__policy_switched(&pol);
	}
	x->pol = NULL;
	return r;
}

static int
m_read_write(struct xfer *x)
{
	ssize_t n;
	int r;

	if ((r = get_buf(x)) < 0)
		return r;
	/* What an earlier method left in the owned pipe goes first. */
	while (x->pipe.len > 0) {
		n = read_some(x, x->pipe.rfd,
		    x->pipe.len < x->bufsz ? x->pipe.len : x->bufsz);
		if (n <= 0)
			return n < 0 ? (int)n : fail(x, ZC_SIDE_SRC, EIO);
		x->pipe.len -= (size_t)n;
		if ((r = write_all(x, x->buf, (size_t)n)) < 0)
			return r;
	}
	while (x->left > 0) {
		pace(x);
		if ((n = read_some(x, x->src, want(x, x->bufsz))) <= 0)
			return n < 0 ? (int)n : DONE;
		x->left -= (size_t)n;
		if ((r = write_all(x, x->buf, (size_t)n)) < 0)
			return r;
	}
	return DONE;
}

/* Fills plan with the methods to try for the pair, best first;
 * returns how many. Into a socket from a file, sendfile (faster into
 * TCP than splicing or copying: 2.2 against 1.3 GiB/s from the page
 * cache on loopback); from anything else, the measured choice unless
 * ZC_XFER_SPLICE_TCP or ZC_XFER_COPY_OUT forces one method, or a rate
 * paces the reads (its waits would be measured as the method's): then
 * splice. */
static int
make_plan(const struct xfer *x, int *plan)
{
	bool sfile = x->si.kind == ZC_KIND_FILE || x->si.blk;
	bool spipe = x->si.kind == ZC_KIND_PIPE;
	bool dpipe = x->di.kind == ZC_KIND_PIPE;
	int n = 0;

	bool dsock = x->di.kind == ZC_KIND_SOCKET;
	unsigned fl = x->o->flags;

	if (!(fl & ZC_XFER_NO_SPLICE) && !x->di.append) {
		if (sfile && x->di.kind == ZC_KIND_FILE)
			plan[n++] = ZC_METHOD_COPY_FILE_RANGE;
		if (sfile)
			plan[n++] = ZC_METHOD_SENDFILE;
		if (dsock && !sfile && (fl & ZC_XFER_COPY_OUT))
			plan[n++] = M_COPY_OUT;
		else if (dsock && !sfile && !x->paced &&
		    !(fl & ZC_XFER_SPLICE_TCP))
			plan[n++] = M_MEASURED;
		else
			plan[n++] = spipe || dpipe ? ZC_METHOD_SPLICE :
			    ZC_METHOD_SPLICE_PIPE;
	}
	plan[n++] = ZC_METHOD_READ_WRITE;
	return n;
}

/* Grows the caller's pipes (unless told not to) and returns the larger
 * of their sizes. */
static size_t
caller_pipes(const struct xfer *x)
{
	ssize_t s = 0, d = 0;

	if (x->si.kind == ZC_KIND_PIPE)
		s = x->o->flags & ZC_XFER_NO_GROW ? zc_pipe_fd_size(x->src) :
		    zc__pipe_grow(x->src, 0, NULL);
	if (x->di.kind == ZC_KIND_PIPE)
		d = x->o->flags & ZC_XFER_NO_GROW ? zc_pipe_fd_size(x->dst) :
		    zc__pipe_grow(x->dst, 0, NULL);
	if (s < d)
		s = d;
	return s > 0 ? (size_t)s : SPLICE_CHUNK;
}

int64_t
zc_transfer(int dst, int src, uint64_t limit,
    const struct zc_transfer_opts *opts, struct zc_stats *stats)
{
	static const struct zc_transfer_opts defaults;
	struct zc_stats own_stats;
	struct xfer x;
	int plan[M_PLAN_MAX];
	int i, n, r;

	memset(&x, 0, sizeof(x));
	x.dst = dst;
	x.src = src;
	x.left = limit;
	x.limit = limit;
	x.o = opts != NULL ? opts : &defaults;
	if ((x.o->flags & ZC_XFER_RATE) && x.o->rate > 0) {
		x.paced = true;
		zc__rate_init(&x.rate, x.o->rate);
	}
	if ((x.o->flags & ZC_XFER_TICK) && x.o->tick_ms > 0) {
		x.tick_ms = x.o->tick_ms;
		x.next_tick = zc__now_us() + (int64_t)x.tick_ms * 1000;
	}
	x.st = stats != NULL ? stats : &own_stats;
	x.pipe.rfd = x.pipe.wfd = -1;
	memset(x.st, 0, sizeof(*x.st));
	if (limit == 0)
		return 0;
	if ((r = zc__classify(src, &x.si)) < 0)
		return fail(&x, ZC_SIDE_SRC, -r);
	if ((r = zc__classify(dst, &x.di)) < 0)
		return fail(&x, ZC_SIDE_DST, -r);

	n = make_plan(&x, plan);
	if (plan[0] != ZC_METHOD_READ_WRITE)
		x.chunk = caller_pipes(&x);
	r = NEXT;
	for (i = 0; i < n && r == NEXT; i++) {
		switch (plan[i]) {
		case ZC_METHOD_COPY_FILE_RANGE:
		case ZC_METHOD_SENDFILE:
		case ZC_METHOD_SPLICE:
			r = m_direct(&x, plan[i]);
			break;
		case ZC_METHOD_SPLICE_PIPE:
			r = m_splice_pipe(&x);
			break;
		case M_MEASURED:
			r = m_measured(&x, ZC__PM_BIT(ZC__PM_SPLICE) |
			    ZC__PM_BIT(ZC__PM_COPY) | ZC__PM_BIT(ZC__PM_RW));
			break;
		case M_COPY_OUT:
			r = m_measured(&x, ZC__PM_BIT(ZC__PM_COPY));
			break;
		default:
			r = m_read_write(&x);
			break;
		}
	}
	zc_pipe_close(&x.pipe);
	free(x.buf);
	if (r < 0)
		return r;
	x.st->err_side = ZC_SIDE_NONE;
	return (int64_t)x.st->bytes;
}
