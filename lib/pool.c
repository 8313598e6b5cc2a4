/*
 * pool.c: what a loop lends its flows and takes back: owned pipes (the
 * hub pipe H and the round pipes Q) within the loop's pipe budget, kept
 * in a pool of spare pipes for reuse, read/write and bounce buffers (big
 * ones while the loop's buffer budget lasts), the growing of the pipes a
 * flow is handed, and the loop's /dev/null for discarding. loop_trim
 * gives all of it back once no flow is left.
 *
 * The pipe budget: the kernel counts every pipe page of an ordinary user
 * against fs.pipe-user-pages-soft, across all of the user's processes;
 * past it new pipes get 2 pages and F_SETPIPE_SZ fails with EPERM (root,
 * CAP_SYS_RESOURCE and CAP_SYS_ADMIN are exempt). A loop subject to the
 * limit takes half of it as its budget for owned pipes, lent and spare;
 * each new pipe gets an equal share of it among the pipes lent (a power
 * of two from PIPE_MIN to pipe-max-size), and none when what is left is
 * below PIPE_MIN: the caller then moves that hop by read/write. When the
 * kernel refuses (EPERM, or a new pipe of 2 pages) the budget becomes
 * what the loop holds then, for LEARN_MS, after which it is tried again.
 */
#include <linux/capability.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "flow-internal.h"

#define POOL_BYTES	(16u << 20)	/* spare pipes' capacity at most */
#define PIPE_MIN	(64 * 1024)	/* smallest owned pipe we splice through */
#define LEARN_MS	1000		/* a refusal holds the budget this long */
#define BUF_SMALL	(64 * 1024)	/* read/write buffers: the usual size */
#define BUF_BIG		(1024 * 1024)	/* while the loop's budget lasts */
#define BUF_BUDGET	(32u << 20)	/* for all of a loop's big buffers */

/* ------------------------------------------------------------------ */
/* The pipe budget                                                    */
/* ------------------------------------------------------------------ */

/* Whether the kernel lets this process past fs.pipe-user-pages-soft. */
static int
pipe_exempt(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) == -1)
		return geteuid() == 0;
	return (d[0].effective & (1u << CAP_SYS_RESOURCE |
	    1u << CAP_SYS_ADMIN)) != 0;
}

/* /proc/sys/fs/pipe-user-pages-soft, or 0 (no limit) when unreadable. */
static size_t
soft_pages(void)
{
	unsigned long long v =
	    zc__proc_number("/proc/sys/fs/pipe-user-pages-soft");

	return v > SIZE_MAX / 8192 ? 0 : (size_t)v;
}

/* The bytes of owned pipes the loop may hold now; SIZE_MAX: no limit. */
size_t
pipe_budget(struct zc_loop *l)
{
	size_t pages;

	if (l->pbudget == 0) {
		pages = pipe_exempt() ? 0 : soft_pages();
		l->pbudget = pages == 0 ? SIZE_MAX :
		    pages * (size_t)sysconf(_SC_PAGESIZE) / 2;
	}
	if (l->prefused != 0 && zc__now_ms() - l->prefused < LEARN_MS)
		return MIN(l->pbudget, l->plearned);
	l->prefused = 0;
	return l->pbudget;
}

/* The kernel refused more pipe pages: what we hold is the budget. */
static void
pipe_refused(struct zc_loop *l)
{
	l->plearned = l->pheld;
	l->prefused = zc__now_ms();
	if (l->prefused == 0)
		l->prefused = 1;
}

/* The largest power of two <= n (n > 0). */
static size_t
floor2(size_t n)
{
	size_t p = 1;

	while (p <= n / 2)
		p *= 2;
	return p;
}

/* The size each of n more owned pipes gets: an equal share of the
 * budget among the pipes lent and these, a power of two from PIPE_MIN
 * to pipe-max-size. */
size_t
pipe_share(struct zc_loop *l, int n)
{
	size_t b = pipe_budget(l), max = zc_pipe_max_size(), s;

	if (b == SIZE_MAX)
		return max;
	s = b / (size_t)(l->plent + (n > 0 ? n : 1));
	s = s < PIPE_MIN ? PIPE_MIN : floor2(s);
	return s > max ? max : s;
}

/* Whether the budget has room for one more pipe now. */
int
pipe_room(struct zc_loop *l)
{
	size_t b = pipe_budget(l);

	return l->npool > 0 || b == SIZE_MAX ||
	    (l->pheld < b && b - l->pheld >= PIPE_MIN);
}

/* Sets the capacity of the empty owned pipe p to about size, within the
 * budget; returns 0 or -errno. */
int
pipe_resize(struct zc_loop *l, struct zc_pipe *p, size_t size)
{
	ssize_t r;
	bool refused = false;

	if (size == p->size)
		return 0;
	if (size < p->size)
		r = zc_pipe_fd_resize(p->wfd, size);
	else
		r = zc__pipe_grow(p->wfd, size, &refused);
	if (r < 0)
		return r;
	l->pheld = l->pheld - p->size + (size_t)r;
	p->size = r;
	if (refused)
		pipe_refused(l);
	return 0;
}

/* Closes a spare pipe to make room. */
static void
pool_drop(struct zc_loop *l)
{
	struct zc_pipe *p = &l->pool[--l->npool];

	l->poolbytes -= p->size;
	l->pheld -= p->size;
	close(p->rfd);
	close(p->wfd);
}

/*
 * Gives p an empty non-blocking pipe of about size bytes (0: the largest
 * allowed), at most its share of the budget, from the pool when one is
 * there. Returns 0, -ENOBUFS when the budget has no room or the kernel
 * gives only a capped pipe (move that hop by read/write, as for -EMFILE,
 * -ENFILE and -ENOMEM), or -errno.
 */
int
pipe_get(struct zc_loop *l, struct zc_pipe *p, size_t size)
{
	size_t b = pipe_budget(l), share = pipe_share(l, 1), other, page;
	int fds[2], r;

	if (size == 0 || size > share)
		size = share;
	if (l->npool > 0) {
		*p = l->pool[--l->npool];
		l->poolbytes -= p->size;
		other = l->pheld - p->size;
		if (b != SIZE_MAX && other + size > b)
			size = other + PIPE_MIN <= b ? floor2(b - other) :
			    p->size;
		if ((r = pipe_resize(l, p, size)) < 0) {
			l->pheld -= p->size;
			close(p->rfd);
			close(p->wfd);
			p->rfd = p->wfd = -1;
			return r;
		}
		l->plent++;
		return 0;
	}
	if (b != SIZE_MAX && (l->pheld >= b || l->pheld + size > b)) {
		if (l->pheld < b && b - l->pheld >= PIPE_MIN)
			size = floor2(b - l->pheld);
		else
			return -ENOBUFS;
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
		return -errno;
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->len = 0;
	p->size = fcntl(fds[1], F_GETPIPE_SZ);
	page = (size_t)sysconf(_SC_PAGESIZE);
	if ((ssize_t)p->size <= 0)
		p->size = page;
	if (p->size <= 2 * page && size > p->size) {
		/* A capped pipe: the user is at the kernel's limit. */
		pipe_refused(l);
		close(fds[0]);
		close(fds[1]);
		p->rfd = p->wfd = -1;
		p->size = 0;
		return -ENOBUFS;
	}
	l->pheld += p->size;
	l->plent++;
	if ((r = pipe_resize(l, p, size)) < 0) {
		l->plent--;
		l->pheld -= p->size;
		close(fds[0]);
		close(fds[1]);
		p->rfd = p->wfd = -1;
		return r;
	}
	return 0;
}

/* Returns p to the pool when it is empty and the pool and the budget
 * have room, else closes it; p is left closed either way. */
void
pipe_put(struct zc_loop *l, struct zc_pipe *p)
{
	size_t b, cap;

	if (p->rfd < 0)
		return;
	l->plent--;
	b = pipe_budget(l);
	cap = b == SIZE_MAX ? POOL_BYTES : MIN(POOL_BYTES, b / 4);
	if (cap < zc_pipe_max_size())
		cap = zc_pipe_max_size();
	if (p->len == 0 && l->npool < POOL_MAX && l->pheld <= b &&
	    l->poolbytes + p->size <= cap) {
		l->pool[l->npool++] = *p;
		l->poolbytes += p->size;
	} else {
		l->pheld -= p->size;
		close(p->rfd);
		close(p->wfd);
	}
	p->rfd = p->wfd = -1;
	p->len = 0;
}

/* Grows the pipes a flow was handed (source, sinks) to a share of the
 * budget, never shrinking them: one share among the handed pipes and
 * the flow's own (one per sink at most), since the kernel counts them
 * all against the user when the user made them (100 FIFOs grown to a
 * whole share each would leave nothing for the round's pipes). A pipe
 * made by another user is counted against that one: a refusal here says
 * nothing about the loop's own budget. */
void
flow_grow(struct zc_flow *f)
{
	size_t want;
	int i, n = f->src.kind == ZC_KIND_PIPE;

	for (i = 0; i < f->nsinks; i++)
		n += f->sinks[i]->e.kind == ZC_KIND_PIPE;
	want = pipe_share(f->loop, n + f->nsinks);

	if (f->src.kind == ZC_KIND_PIPE)
		zc__pipe_grow(f->src.fd, want, NULL);
	for (i = 0; i < f->nsinks; i++)
		if (f->sinks[i]->e.kind == ZC_KIND_PIPE)
			zc__pipe_grow(f->sinks[i]->e.fd, want, NULL);
}

/* Closes the spare pipes: a live flow whose sink left keeps no pipe for
 * the next one (joiners are rare next to rounds; pipe pages go back). */
void
pool_trim(struct zc_loop *l)
{
	while (l->npool > 0)
		pool_drop(l);
}

/* Closes the spare pipes and /dev/null: once no flow is left, the loop
 * holds no descriptor but its own two and the watched ones. */
void
loop_trim(struct zc_loop *l)
{
	while (l->npool > 0)
		pool_drop(l);
	free(l->sparebuf);
	l->sparebuf = NULL;
	if (l->devnull >= 0)
		close(l->devnull);
	l->devnull = -2;
}

/* The loop's /dev/null for discarding, or -1. */
int
loop_devnull(struct zc_loop *l)
{
	if (l->devnull == -2)
		l->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return l->devnull;
}

/* ------------------------------------------------------------------ */
/* Read/write buffers                                                 */
/* ------------------------------------------------------------------ */

/* A read/write buffer: BUF_BIG while the loop's budget lasts (large
 * moves cost fewer system calls), else BUF_SMALL. 0 or -ENOMEM. */
int
buf_get(struct zc_loop *l, char **buf, size_t *size)
{
	size_t want = BUF_SMALL;

	if (*buf != NULL)
		return 0;
	if (l->sparebuf != NULL) {
		*buf = l->sparebuf;
		*size = BUF_BIG;
		l->sparebuf = NULL;
		l->bigbytes += BUF_BIG;
		return 0;
	}
	if (l->bigbytes + BUF_BIG <= BUF_BUDGET)
		want = BUF_BIG;
	if ((*buf = malloc(want)) == NULL)
		return -ENOMEM;
	*size = want;
	if (want == BUF_BIG)
		l->bigbytes += BUF_BIG;
	return 0;
}

void
buf_put(struct zc_loop *l, char **buf, size_t *size)
{
	if (*buf == NULL)
		return;
	if (*size == BUF_BIG) {
		l->bigbytes -= BUF_BIG;
		if (l->sparebuf == NULL) {
			l->sparebuf = *buf;
			*buf = NULL;
		}
	}
	free(*buf);
	*buf = NULL;
	*size = 0;
}
