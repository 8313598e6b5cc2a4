/*
 * flow.c: the flow engine. One thread, one epoll set (level-triggered),
 * an eventfd for zc_loop_stop, deadlines (tick, idle, run timeout)
 * through the epoll_wait timeout.
 *
 * A flow runs in one of these modes, chosen when it first runs:
 *   M_SRCPIPE   one sink, the source is a pipe: splice source -> sink
 *   M_SINKPIPE  one sink that is a pipe: splice source -> sink
 *   M_HUB       one sink, neither a pipe: source -> owned pipe H -> sink
 *   M_ROUND     several sinks: rounds over S (the source pipe, or H)
 *   M_RW        read/write through one buffer (ZC_FLOW_NO_SPLICE, or a
 *               socket pair moving small chunks)
 * A hop that the kernel refuses to splice (EINVAL, ENOSYS, EOPNOTSUPP)
 * goes on with read/write through a bounce buffer; the rest stay spliced.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define POOL_MAX	64		/* spare pipes kept by a loop */
#define POOL_BYTES	(16u << 20)	/* and their capacity at most */
#define BUF_SMALL	(64 * 1024)	/* read/write buffers: the usual size */
#define BUF_BIG		(1024 * 1024)	/* while the loop's budget lasts */
#define BUF_BUDGET	(32u << 20)	/* for all of a loop's big buffers */
#define STEP_BUDGET	64		/* hops per flow before others run */
#define CHUNK_MAX	((size_t)1 << 30)
#define MAX_EVENTS	64

/* Adaptive switch for socket -> socket flows (see zc_loop_new(3)). */
#define ADAPT_WINDOW	64		/* fills or reads per decision */
#define ADAPT_LOW	(8 * 1024)	/* splice average below: read/write */
#define ADAPT_HIGH	(32 * 1024)	/* read average above: splice again */

#define MIN(a, b)	((a) < (b) ? (a) : (b))

enum mode { M_SETUP, M_SRCPIPE, M_SINKPIPE, M_HUB, M_ROUND, M_RW };
enum utype { U_FLOW, U_WATCH };

struct fdent;
struct watch;

/* One interest in a descriptor: a flow's source or sink, or a watch. */
struct user {
	LIST_ENTRY(user) link;
	struct fdent *fe;
	enum utype type;
	uint32_t want;
	uint64_t gen;
	struct zc_flow *f;
	struct watch *w;
};

/* What the loop knows about one descriptor number. */
struct fdent {
	int fd;
	uint32_t events;	/* registered with epoll; 0: not registered */
	int nopoll;		/* epoll refused it: always ready */
	int nb_set;		/* O_NONBLOCK added by us; orig_fl restores */
	int orig_fl;
	LIST_HEAD(, user) users;
};

struct watch {
	TAILQ_ENTRY(watch) link;
	struct user u;
	int fd;
	void (*cb)(struct zc_loop *, int, unsigned, void *);
	void *arg;
};

/* The source or a sink of a flow. */
struct ep {
	int fd;
	int kind;
	int blocking;		/* pipe, tty or device without O_NONBLOCK */
	int rw;			/* read/write instead of splice */
	uint32_t w;		/* what this step waits for */
	struct user u;
	struct zc_stats st;
	char *buf;		/* bounce buffer: taken, not yet passed on */
	size_t bsize, boff, blen;
};

struct sink {
	struct ep e;
	int dropped;
	int err;
	struct zc_pipe q;	/* M_ROUND, all but the last sink */
	uint64_t owed;		/* M_ROUND last sink: bytes still in S */
	size_t off;		/* M_RW: offset in the flow's buffer */
};

struct zc_flow {
	TAILQ_ENTRY(zc_flow) link;
	TAILQ_ENTRY(zc_flow) rlink;
	struct zc_flow_rq *rq;	/* the ready list it is on, or NULL */
	struct zc_loop *loop;
	struct zc_flow_opts o;
	uint64_t limit;
	enum mode mode;
	int done;
	int busy;
	int dead;
	int eof;
	struct ep src;
	struct sink **sinks;
	int nsinks;
	int nlive;
	int last;		/* M_ROUND: the sink that reads S itself */
	int in_round;
	uint64_t discard;	/* M_ROUND: bytes of a dropped last sink */
	struct zc_pipe h;	/* hub pipe; rfd -1 when none */
	size_t psize;		/* owned pipes' wanted size */
	size_t qsize;		/* M_ROUND: size of every Q (all equal) */
	uint64_t taken;		/* bytes taken in from the source */
	char *buf;		/* M_RW */
	size_t bsize, blen;
	int64_t last_move;
	int adaptive;
	unsigned nsample;
	uint64_t sampled;
	int adapt_to;		/* mode to switch to when empty, or 0 */
};

TAILQ_HEAD(zc_flow_rq, zc_flow);

struct zc_loop {
	int epfd;
	int evfd;
	int devnull;
	volatile sig_atomic_t stop;
	struct fdent **fds;
	int nfds;
	TAILQ_HEAD(, zc_flow) flows;
	struct zc_flow_rq ready;
	TAILQ_HEAD(, watch) watches;
	int nrun;
	int nwatch;
	int running;
	uint64_t gen;
	int64_t now;
	int64_t active;
	int tick_ms;
	int64_t next_tick;
	void (*tick_cb)(void *);
	void *tick_arg;
	struct zc_pipe pool[POOL_MAX];
	int npool;
	size_t poolbytes;
	size_t bigbytes;	/* BUF_BIG buffers handed out */
};

static int flow_fail(struct zc_flow *, int);

/* Whether fd has ev (POLLIN or POLLOUT) now; hang-up and error count. */
static int
fd_ready(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	if (poll(&p, 1, 0) <= 0)
		return 0;
	return p.revents != 0;
}

/* ------------------------------------------------------------------ */
/* Owned pipes                                                        */
/* ------------------------------------------------------------------ */

/* Sets the capacity of the (empty) pipe fd to size, or to the largest
 * smaller one the kernel accepts; returns the capacity in force. */
static size_t
pipe_setsize(int fd, size_t size)
{
	ssize_t r;

	if ((r = zc_pipe_fd_resize(fd, size)) > 0)
		return r;
	return 4096;
}

/* Gives p an empty non-blocking pipe of about size bytes, from the pool
 * when one is there; returns 0 or -errno. */
static int
pipe_get(struct zc_loop *l, struct zc_pipe *p, size_t size)
{
	int fds[2];

	if (l->npool > 0) {
		*p = l->pool[--l->npool];
		l->poolbytes -= p->size;
		if (p->size != size)
			p->size = pipe_setsize(p->wfd, size);
		return 0;
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
		return -errno;
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->len = 0;
	p->size = pipe_setsize(p->wfd, size);
	return 0;
}

/* Returns p to the pool when it is empty and there is room, else closes
 * it; p is left closed either way. */
static void
pipe_put(struct zc_loop *l, struct zc_pipe *p)
{
	if (p->rfd < 0)
		return;
	if (p->len == 0 && l->npool < POOL_MAX &&
	    l->poolbytes + p->size <= POOL_BYTES) {
		l->pool[l->npool++] = *p;
		l->poolbytes += p->size;
	} else {
		close(p->rfd);
		close(p->wfd);
	}
	p->rfd = p->wfd = -1;
	p->len = 0;
}

/* Closes the spare pipes and /dev/null: once no flow is left, the loop
 * holds no descriptor but its own two and the watched ones. */
static void
loop_trim(struct zc_loop *l)
{
	int i;

	for (i = 0; i < l->npool; i++) {
		close(l->pool[i].rfd);
		close(l->pool[i].wfd);
	}
	l->npool = 0;
	l->poolbytes = 0;
	if (l->devnull >= 0)
		close(l->devnull);
	l->devnull = -2;
}

/* The loop's /dev/null for discarding, or -1. */
static int
loop_devnull(struct zc_loop *l)
{
	if (l->devnull == -2)
		l->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return l->devnull;
}

/* ------------------------------------------------------------------ */
/* Descriptors and epoll                                              */
/* ------------------------------------------------------------------ */

/* The entry for fd, made if needed; NULL when out of memory. */
static struct fdent *
fd_get(struct zc_loop *l, int fd)
{
	struct fdent *fe, **nf;
	int n;

	if (fd >= l->nfds) {
		n = l->nfds ? l->nfds : 64;
		while (n <= fd)
			n *= 2;
		if ((nf = realloc(l->fds, n * sizeof(*nf))) == NULL)
			return NULL;
		memset(nf + l->nfds, 0, (n - l->nfds) * sizeof(*nf));
		l->fds = nf;
		l->nfds = n;
	}
	if ((fe = l->fds[fd]) != NULL)
		return fe;
	if ((fe = calloc(1, sizeof(*fe))) == NULL)
		return NULL;
	fe->fd = fd;
	LIST_INIT(&fe->users);
	l->fds[fd] = fe;
	return fe;
}

/* Brings the epoll registration of fe in line with its users' wants;
 * returns 0 or -errno. */
static int
fd_sync(struct zc_loop *l, struct fdent *fe)
{
	struct epoll_event ev = { 0 };
	struct user *u;
	uint32_t want = 0;
	int op, r;

	LIST_FOREACH(u, &fe->users, link)
		want |= u->want;
	if (want == fe->events || fe->nopoll)
		return 0;
	ev.events = want;
	ev.data.fd = fe->fd;
	if (want == 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fe->fd, NULL);
		fe->events = 0;
		return 0;
	}
	op = fe->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	r = epoll_ctl(l->epfd, op, fe->fd, &ev);
	if (r == -1 && errno == EEXIST)
		r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fe->fd, &ev);
	else if (r == -1 && errno == ENOENT)
		r = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fe->fd, &ev);
	if (r == -1) {
		if (errno == EPERM) {
			fe->nopoll = 1;
			fe->events = 0;
			return 0;
		}
		return -errno;
	}
	fe->events = want;
	return 0;
}

/* Attaches u to fd; with nonblock, makes fd O_NONBLOCK for as long as
 * the loop uses it. Returns 0 or -errno. */
static int
user_attach(struct zc_loop *l, struct user *u, int fd, int nonblock)
{
	struct fdent *fe;
	int fl;

	if ((fe = fd_get(l, fd)) == NULL)
		return -ENOMEM;
	if (nonblock && !fe->nb_set) {
		if ((fl = fcntl(fd, F_GETFL)) == -1) {
			fl = -errno;
			if (LIST_EMPTY(&fe->users)) {
				l->fds[fd] = NULL;
				free(fe);
			}
			return fl;
		}
		if (!(fl & O_NONBLOCK) &&
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) != -1) {
			fe->nb_set = 1;
			fe->orig_fl = fl;
		}
	}
	u->fe = fe;
	u->want = 0;
	u->gen = l->gen;
	LIST_INSERT_HEAD(&fe->users, u, link);
	return 0;
}

/* Detaches u; the last user of a descriptor restores its flags. */
static void
user_detach(struct zc_loop *l, struct user *u)
{
	struct fdent *fe = u->fe;

	if (fe == NULL)
		return;
	u->want = 0;
	LIST_REMOVE(u, link);
	u->fe = NULL;
	if (!LIST_EMPTY(&fe->users)) {
		fd_sync(l, fe);
		return;
	}
	if (fe->events)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fe->fd, NULL);
	if (fe->nb_set)
		fcntl(fe->fd, F_SETFL, fe->orig_fl);
	l->fds[fe->fd] = NULL;
	free(fe);
}

/* Sets what u waits for; returns 0, 1 when the descriptor cannot be
 * waited for (treat it as ready), or -errno. */
static int
user_want(struct zc_loop *l, struct user *u, uint32_t want)
{
	int r;

	if (u->fe == NULL)
		return 0;
	u->want = want;
	if ((r = fd_sync(l, u->fe)) < 0)
		return r;
	return want && u->fe->nopoll;
}

/* ------------------------------------------------------------------ */
/* Flow bookkeeping                                                   */
/* ------------------------------------------------------------------ */

static void
flow_ready(struct zc_flow *f)
{
	if (f->rq || f->done || f->dead)
		return;
	f->rq = &f->loop->ready;
	TAILQ_INSERT_TAIL(f->rq, f, rlink);
}

static void
flow_unready(struct zc_flow *f)
{
	if (f->rq == NULL)
		return;
	TAILQ_REMOVE(f->rq, f, rlink);
	f->rq = NULL;
}

/* A read/write buffer: BUF_BIG while the loop's budget lasts (large
 * moves cost fewer system calls), else BUF_SMALL. 0 or -ENOMEM. */
static int
buf_get(struct zc_loop *l, char **buf, size_t *size)
{
	size_t want = BUF_SMALL;

	if (*buf != NULL)
		return 0;
	if (l->bigbytes + BUF_BIG <= BUF_BUDGET)
		want = BUF_BIG;
	if ((*buf = malloc(want)) == NULL)
		return -ENOMEM;
	*size = want;
	if (want == BUF_BIG)
		l->bigbytes += BUF_BIG;
	return 0;
}

static void
buf_put(struct zc_loop *l, char **buf, size_t *size)
{
	if (*buf == NULL)
		return;
	if (*size == BUF_BIG)
		l->bigbytes -= BUF_BIG;
	free(*buf);
	*buf = NULL;
	*size = 0;
}

static void
account(struct zc_flow *f, struct zc_stats *st, int method, size_t n)
{
	st->bytes += n;
	st->by_method[method] += n;
	f->last_move = f->loop->now;
	f->loop->active = f->loop->now;
}

/* Releases the pipes and buffers of a flow that has ended. */
static void
flow_drop_pipes(struct zc_flow *f)
{
	struct sink *s;
	int i;

	pipe_put(f->loop, &f->h);
	buf_put(f->loop, &f->buf, &f->bsize);
	buf_put(f->loop, &f->src.buf, &f->src.bsize);
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		pipe_put(f->loop, &s->q);
		buf_put(f->loop, &s->e.buf, &s->e.bsize);
	}
}

/* Ends the flow with err and tells the caller; returns -1. */
static int
flow_done(struct zc_flow *f, int err)
{
	int i;

	if (f->done || f->dead)
		return -1;
	f->done = 1;
	f->loop->nrun--;
	flow_unready(f);
	user_want(f->loop, &f->src.u, 0);
	for (i = 0; i < f->nsinks; i++)
		user_want(f->loop, &f->sinks[i]->e.u, 0);
	flow_drop_pipes(f);
	if (f->o.on_done) {
		f->busy++;
		f->o.on_done(f, err, f->o.arg);
		f->busy--;
	}
	return -1;
}

/* Internal failure: ends the flow; returns -1. */
static int
flow_fail(struct zc_flow *f, int err)
{
	return flow_done(f, err);
}

/* The source failed with err; returns -1. */
static int
src_fail(struct zc_flow *f, int err)
{
	f->src.st.err_side = ZC_SIDE_SRC;
	return flow_done(f, err);
}

/* Stops feeding sink s. */
static void
sink_drop(struct zc_flow *f, struct sink *s)
{
	if (s->dropped)
		return;
	s->dropped = 1;
	f->nlive--;
	user_want(f->loop, &s->e.u, 0);
	if (f->mode == M_ROUND && f->in_round && f->sinks[f->last] == s) {
		f->discard += s->owed;
		s->owed = 0;
	}
	buf_put(f->loop, &s->e.buf, &s->e.bsize);
	s->e.boff = s->e.blen = 0;
	pipe_put(f->loop, &s->q);
	if (f->nlive == 0)
		flow_done(f, -EPIPE);
}

/* Sink s failed with err: asks on_sink_error, drops the sink or ends the
 * flow; returns -1. */
static int
sink_fail(struct zc_flow *f, struct sink *s, int err)
{
	int i, r = 0;

	s->err = err;
	s->e.st.err_side = ZC_SIDE_DST;
	if (f->o.on_sink_error) {
		for (i = 0; f->sinks[i] != s; i++)
			;
		f->busy++;
		r = f->o.on_sink_error(f, i, err, f->o.arg);
		f->busy--;
		if (f->done || f->dead)
			return -1;
	}
	if (r < 0)
		return flow_done(f, r);
	sink_drop(f, s);
	return -1;
}

static int
src_end(const struct zc_flow *f)
{
	return f->eof || f->taken >= f->limit;
}

/* After EAGAIN between two descriptors, waits for the one that is not
 * ready, or for both when neither tells. */
static void
want_either(struct ep *in, struct ep *out)
{
	struct pollfd p[2] = {
		{ .fd = in->fd, .events = POLLIN },
		{ .fd = out->fd, .events = POLLOUT },
	};

	if (poll(p, 2, 0) < 0)
		p[0].revents = p[1].revents = 0;
	if (p[0].revents == 0)
		in->w |= EPOLLIN;
	if (p[1].revents == 0)
		out->w |= EPOLLOUT;
	if (p[0].revents && p[1].revents) {
		in->w |= EPOLLIN;
		out->w |= EPOLLOUT;
	}
}

/* Whether splice may touch e without blocking: a blocking pipe is
 * covered by SPLICE_F_NONBLOCK, a blocking terminal or device is polled
 * first (sets e->w when not ready). */
static int
ep_ready(struct ep *e, short ev)
{
	if (!e->blocking || e->kind == ZC_KIND_PIPE || fd_ready(e->fd, ev))
		return 1;
	e->w |= ev == POLLIN ? EPOLLIN : EPOLLOUT;
	return 0;
}

/* Writes up to len bytes from p to e without blocking for long; returns
 * the count, 0 when it would block (e->w set), or -errno. */
static ssize_t
ep_write(struct ep *e, const char *p, size_t len)
{
	ssize_t n;

	if (e->blocking) {
		if (!fd_ready(e->fd, POLLOUT)) {
			e->w |= EPOLLOUT;
			return 0;
		}
		if ((e->kind == ZC_KIND_PIPE || e->kind == ZC_KIND_TTY) &&
		    len > PIPE_BUF)
			len = PIPE_BUF;
	}
	do
		n = write(e->fd, p, len);
	while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN) {
		e->w |= EPOLLOUT;
		return 0;
	}
	return -errno;
}

/* Reads up to len bytes from e without blocking; returns the count, 0 at
 * end of input, -EAGAIN (e->w set), or -errno. */
static ssize_t
ep_read(struct ep *e, char *p, size_t len)
{
	ssize_t n;

	if (e->blocking && !fd_ready(e->fd, POLLIN)) {
		e->w |= EPOLLIN;
		return -EAGAIN;
	}
	do
		n = read(e->fd, p, len);
	while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN)
		e->w |= EPOLLIN;
	return -errno;
}

/* ------------------------------------------------------------------ */
/* Hops                                                               */
/* ------------------------------------------------------------------ */

/* Records that n bytes left sink s's pipe for it (rw: by read). */
static void
took(struct zc_flow *f, struct sink *s, size_t n, int rw)
{
	switch (f->mode) {
	case M_HUB:
		f->h.len -= n;
		break;
	case M_SRCPIPE:
		f->taken += n;
		account(f, &f->src.st,
		    rw ? ZC_METHOD_READ_WRITE : ZC_METHOD_SPLICE, n);
		break;
	case M_ROUND:
		if (f->sinks[f->last] != s) {
			s->q.len -= n;
			break;
		}
		s->owed -= n;
		if (f->h.rfd >= 0)
			f->h.len -= n;
		else
			account(f, &f->src.st,
			    rw ? ZC_METHOD_READ_WRITE : ZC_METHOD_SPLICE, n);
		break;
	default:
		break;
	}
}

/*
 * Moves up to owed bytes from pipe rfd to sink s. known: the bytes are
 * in the pipe (an owned pipe, or S in a round); else rfd is the source
 * and may be empty or at its end. Returns 1 when anything happened, 0
 * when blocked, -1 when the sink was dropped or the flow ended.
 */
static int
sink_take(struct zc_flow *f, struct sink *s, int rfd, uint64_t owed,
    int known, int method)
{
	size_t len;
	ssize_t n;
	int prog = 0;

	if (s->e.rw) {
		if (s->e.blen) {
			n = ep_write(&s->e, s->e.buf + s->e.boff,
			    s->e.blen - s->e.boff);
			if (n < 0)
				return sink_fail(f, s, n);
			if (n == 0)
				return 0;
			account(f, &s->e.st, ZC_METHOD_READ_WRITE, n);
			s->e.boff += n;
			if (s->e.boff < s->e.blen)
				return 1;
			s->e.boff = s->e.blen = 0;
			prog = 1;
		}
		if (owed == 0)
			return prog;
		if (buf_get(f->loop, &s->e.buf, &s->e.bsize) < 0)
			return flow_fail(f, -ENOMEM);
		if (known) {
			do
				n = read(rfd, s->e.buf, MIN(owed, s->e.bsize));
			while (n == -1 && errno == EINTR);
			if (n <= 0)
				return flow_fail(f, n == 0 ? -EIO : -errno);
		} else {
			n = ep_read(&f->src, s->e.buf, MIN(owed, s->e.bsize));
			if (n == -EAGAIN)
				return prog;
			if (n < 0)
				return src_fail(f, n);
			if (n == 0) {
				f->eof = 1;
				return 1;
			}
		}
		s->e.blen = n;
		took(f, s, n, 1);
		return 1;
	}
	if (owed == 0 || !ep_ready(&s->e, POLLOUT))
		return 0;
	len = MIN(owed, CHUNK_MAX);
	if (s->e.blocking && s->e.kind == ZC_KIND_TTY && len > PIPE_BUF)
		len = PIPE_BUF;		/* a terminal blocks for all of it */
	n = splice(rfd, NULL, s->e.fd, NULL, len,
	    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n > 0) {
		took(f, s, n, 0);
		account(f, &s->e.st, method, n);
		return 1;
	}
	if (n == 0) {
		if (known)
			return flow_fail(f, -EIO);
		f->eof = 1;
		return 1;
	}
	switch (errno) {
	case EINTR:
		return 1;
	case EAGAIN:
		if (known)
			s->e.w |= EPOLLOUT;
		else
			want_either(&f->src, &s->e);
		return 0;
	case EINVAL:
	case ENOSYS:
	case EOPNOTSUPP:
		s->e.rw = 1;
		return 1;
	}
	return sink_fail(f, s, -errno);
}

/* Counts a move of n bytes (n > 0) of an adaptive flow; returns the
 * average move once ADAPT_WINDOW of them are counted (and starts
 * over), else 0. */
static uint64_t
adapt_average(struct zc_flow *f, size_t n)
{
	uint64_t avg;

	if (!f->adaptive)
		return 0;
	f->sampled += n;
	if (++f->nsample < ADAPT_WINDOW)
		return 0;
	avg = f->sampled / ADAPT_WINDOW;
	f->nsample = 0;
	f->sampled = 0;
	return avg;
}

/* Fills the hub pipe from the source; returns 1 when anything happened,
 * 0 when blocked or full, -1 when the flow ended. */
static int
src_fill(struct zc_flow *f)
{
	struct zc_pipe *h = &f->h;
	struct ep *e = &f->src;
	size_t room = h->size > h->len ? h->size - h->len : 0;
	uint64_t avg;
	ssize_t n;

	if (e->rw) {
		if (e->blen) {
			do
				n = write(h->wfd, e->buf + e->boff,
				    e->blen - e->boff);
			while (n == -1 && errno == EINTR);
			if (n == -1 && errno == EAGAIN)
				return 0;
			if (n <= 0)
				return flow_fail(f, n == 0 ? -EIO : -errno);
			h->len += n;
			e->boff += n;
			if (e->boff == e->blen)
				e->boff = e->blen = 0;
			return 1;
		}
		if (src_end(f) || room == 0)
			return 0;
		if (buf_get(f->loop, &e->buf, &e->bsize) < 0)
			return flow_fail(f, -ENOMEM);
		n = ep_read(e, e->buf,
		    MIN(MIN(room, e->bsize), f->limit - f->taken));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return src_fail(f, n);
		if (n == 0) {
			f->eof = 1;
			return 1;
		}
		e->blen = n;
		f->taken += n;
		account(f, &e->st, ZC_METHOD_READ_WRITE, n);
		return 1;
	}
	if (src_end(f) || room == 0 || !ep_ready(e, POLLIN))
		return 0;
	n = splice(e->fd, NULL, h->wfd, NULL, MIN(room, f->limit - f->taken),
	    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n > 0) {
		h->len += n;
		f->taken += n;
		account(f, &e->st, ZC_METHOD_SPLICE_PIPE, n);
		avg = adapt_average(f, n);
		if (avg > 0 && avg < ADAPT_LOW)
			f->adapt_to = M_RW;
		return 1;
	}
	if (n == 0) {
		f->eof = 1;
		return 1;
	}
	switch (errno) {
	case EINTR:
		return 1;
	case EAGAIN:
		/* With bytes in H, H may be the full side: the sink's
		 * progress brings us back here. */
		if (h->len == 0)
			e->w |= EPOLLIN;
		return 0;
	case EINVAL:
	case ENOSYS:
	case EOPNOTSUPP:
		e->rw = 1;
		return 1;
	}
	return src_fail(f, -errno);
}

/* ------------------------------------------------------------------ */
/* Modes                                                              */
/* ------------------------------------------------------------------ */

static int
step_srcpipe(struct zc_flow *f)
{
	struct sink *s = f->sinks[f->last];

	if (src_end(f) && s->e.blen == 0)
		return flow_done(f, 0);
	return sink_take(f, s, f->src.fd, f->limit - f->taken, 0,
	    ZC_METHOD_SPLICE);
}

static int
step_sinkpipe(struct zc_flow *f)
{
	struct sink *s = f->sinks[f->last];
	ssize_t n;
	int r;

	if (src_end(f))
		return flow_done(f, 0);
	if (!ep_ready(&f->src, POLLIN))
		return 0;
	n = splice(f->src.fd, NULL, s->e.fd, NULL,
	    MIN(f->limit - f->taken, CHUNK_MAX),
	    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n > 0) {
		f->taken += n;
		account(f, &f->src.st, ZC_METHOD_SPLICE, n);
		account(f, &s->e.st, ZC_METHOD_SPLICE, n);
		return 1;
	}
	if (n == 0) {
		f->eof = 1;
		return 1;
	}
	switch (errno) {
	case EINTR:
		return 1;
	case EAGAIN:
		want_either(&f->src, &s->e);
		return 0;
	case EINVAL:
	case ENOSYS:
	case EOPNOTSUPP:
		/* The source cannot splice: read it into a hub pipe. */
		if ((r = pipe_get(f->loop, &f->h, f->psize)) < 0)
			return flow_fail(f, r);
		f->src.rw = 1;
		f->mode = M_HUB;
		return 1;
	case EPIPE:
		return sink_fail(f, s, -EPIPE);
	}
	return src_fail(f, -errno);
}

static int
step_hub(struct zc_flow *f)
{
	struct sink *s = f->sinks[f->last];
	int prog, r;

	if ((prog = src_fill(f)) < 0)
		return -1;
	r = sink_take(f, s, f->h.rfd, f->h.len, 1, ZC_METHOD_SPLICE_PIPE);
	if (r < 0)
		return -1;
	prog |= r;
	if (f->h.len == 0 && f->src.blen == 0 && s->e.blen == 0) {
		if (src_end(f))
			return flow_done(f, 0);
		if (f->adapt_to == M_RW) {
			if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
				return flow_fail(f, -ENOMEM);
			pipe_put(f->loop, &f->h);
			f->mode = M_RW;
			f->adapt_to = 0;
			f->blen = 0;
			for (r = 0; r < f->nsinks; r++)
				f->sinks[r]->off = 0;
			return 1;
		}
	}
	return prog;
}

/* Gives every live sink but the last an empty Q, all of one size;
 * returns 0 or -errno. */
static int
round_pipes(struct zc_flow *f)
{
	struct sink *s;
	size_t min = f->qsize;
	int i, r;

	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped)
			continue;
		if (i == f->last) {
			pipe_put(f->loop, &s->q);
			continue;
		}
		if (s->q.rfd < 0 && (r = pipe_get(f->loop, &s->q, f->qsize)))
			return r;
		if (s->q.size < min)
			min = s->q.size;
	}
	f->qsize = min;
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || s->q.rfd < 0 || s->q.size == min)
			continue;
		s->q.size = pipe_setsize(s->q.wfd, min);
		if (s->q.size != min)
			return -EIO;
	}
	return 0;
}

/* tee(2) from S into an empty Q of S's size, which has room for the
 * whole head: EINTR, and EAGAIN when the bytes are known to be in S
 * (known), are retried a few times rather than ending the flow. */
static ssize_t
tee_empty(int spipe, int qfd, size_t max, int known)
{
	ssize_t n;
	int tries = 0;

	do
		n = tee(spipe, qfd, max, SPLICE_F_NONBLOCK);
	while (n == -1 && (errno == EINTR ||
	    (errno == EAGAIN && known && tries++ < 16)));
	return n;
}

/* Starts a round: copies the head of S into every Q. Returns 1 when a
 * round started or the flow changed mode, 0 when there is nothing to
 * send yet, -1 when the flow ended. */
static int
round_start(struct zc_flow *f)
{
	int hub = f->h.rfd >= 0;
	int spipe = hub ? f->h.rfd : f->src.fd;
	struct sink *s, *first = NULL;
	uint64_t max;
	ssize_t n = 0, m;
	int i, r;

	for (i = f->nsinks - 1; i >= 0 && f->sinks[i]->dropped; i--)
		;
	f->last = i;
	if (f->nlive == 1) {
		pipe_put(f->loop, &f->sinks[i]->q);
		f->mode = hub ? M_HUB : M_SRCPIPE;
		return 1;
	}
	if (hub) {
		if (f->h.len == 0) {
			if (src_end(f) && f->src.blen == 0)
				return flow_done(f, 0);
			return 0;
		}
		max = f->h.len;
	} else {
		if (src_end(f))
			return flow_done(f, 0);
		max = f->limit - f->taken;
	}
	if ((r = round_pipes(f)) < 0)
		return flow_fail(f, r);
	if (max > f->qsize)
		max = f->qsize;
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || i == f->last)
			continue;
		if (first == NULL) {
			n = tee_empty(spipe, s->q.wfd, max, hub);
			if (n == -1 && errno == EAGAIN && !hub) {
				f->src.w |= EPOLLIN;
				return 0;
			}
			if (n == 0 && !hub) {
				f->eof = 1;
				return flow_done(f, 0);
			}
			if (n <= 0)
				return hub ? flow_fail(f, -EIO) :
				    src_fail(f, -errno);
			first = s;
		} else {
			m = tee_empty(spipe, s->q.wfd, n, 1);
			if (m != n)
				return flow_fail(f, -EIO);
		}
		s->q.len = n;
	}
	f->sinks[f->last]->owed = n;
	if (!hub)
		f->taken += n;
	f->in_round = 1;
	return 1;
}

/* Removes the bytes a dropped last sink still owed from S; returns 1,
 * or -1 when the flow ended. */
static int
round_discard(struct zc_flow *f)
{
	int hub = f->h.rfd >= 0;
	int spipe = hub ? f->h.rfd : f->src.fd;
	int null = loop_devnull(f->loop);
	char tmp[4096];
	ssize_t n;

	if (null >= 0)
		n = splice(spipe, NULL, null, NULL, MIN(f->discard, CHUNK_MAX),
		    SPLICE_F_NONBLOCK);
	else
		n = read(spipe, tmp, MIN(f->discard, sizeof(tmp)));
	if (n == -1 && errno == EINTR)
		return 1;
	if (n <= 0)
		return flow_fail(f, -EIO);
	f->discard -= n;
	if (hub)
		f->h.len -= n;
	else
		account(f, &f->src.st, ZC_METHOD_SPLICE, n);
	return 1;
}

static int
step_round(struct zc_flow *f)
{
	int hub = f->h.rfd >= 0;
	int spipe = hub ? f->h.rfd : f->src.fd;
	struct sink *s;
	int i, r, prog = 0, busy = 0;

	if (hub && (prog = src_fill(f)) < 0)
		return -1;
	if (!f->in_round) {
		if ((r = round_start(f)) <= 0)
			return r < 0 ? -1 : prog;
		if (f->mode != M_ROUND)
			return 1;
		prog = 1;
	}
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped)
			continue;
		if (i == f->last)
			r = sink_take(f, s, spipe, s->owed, 1, hub ?
			    ZC_METHOD_SPLICE_PIPE : ZC_METHOD_SPLICE);
		else
			r = sink_take(f, s, s->q.rfd, s->q.len, 1,
			    ZC_METHOD_SPLICE_PIPE);
		if (f->done || f->dead)
			return -1;
		if (r > 0)
			prog = 1;
	}
	if (f->discard) {
		if (round_discard(f) < 0)
			return -1;
		prog = 1;
	}
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped)
			continue;
		if (s->e.blen || (i == f->last ? s->owed : s->q.len))
			busy = 1;
	}
	if (!busy && f->discard == 0) {
		f->in_round = 0;
		prog = 1;
	}
	return prog;
}

static int
step_rw(struct zc_flow *f)
{
	struct sink *s;
	ssize_t n;
	int i, prog = 0, pending = 0;

	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || s->off >= f->blen)
			continue;
		n = ep_write(&s->e, f->buf + s->off, f->blen - s->off);
		if (n < 0) {
			sink_fail(f, s, n);
			if (f->done || f->dead)
				return -1;
			continue;
		}
		if (n > 0) {
			s->off += n;
			account(f, &s->e.st, ZC_METHOD_READ_WRITE, n);
			prog = 1;
		}
		if (s->off < f->blen)
			pending = 1;
	}
	if (pending)
		return prog;
	f->blen = 0;
	for (i = 0; i < f->nsinks; i++)
		f->sinks[i]->off = 0;
	if (src_end(f))
		return flow_done(f, 0);
	if (f->adapt_to == M_HUB) {
		f->adapt_to = 0;
		if ((i = pipe_get(f->loop, &f->h, f->psize)) < 0)
			return flow_fail(f, i);
		f->mode = M_HUB;
		return 1;
	}
	n = ep_read(&f->src, f->buf, MIN(f->bsize, f->limit - f->taken));
	if (n == -EAGAIN)
		return prog;
	if (n < 0)
		return src_fail(f, n);
	if (n == 0) {
		f->eof = 1;
		return 1;
	}
	f->blen = n;
	f->taken += n;
	account(f, &f->src.st, ZC_METHOD_READ_WRITE, n);
	if (adapt_average(f, n) >= ADAPT_HIGH)
		f->adapt_to = M_HUB;
	return 1;
}

/*
 * Chooses the flow's mode once its sinks are known; returns 0 or -1.
 * A TCP sink is written with write(2) from a buffer read out of the
 * pipe (copy-out) unless ZC_FLOW_SPLICE_TCP: since Linux 6.5, splice
 * into TCP (MSG_SPLICE_PAGES) costs more than that copy, measured at
 * 0.6x on loopback for a relay (bench/run net, zcat-net --splice-tcp).
 * Bytes still come in by splice; other sinks are spliced as before.
 */
static int
flow_setup(struct zc_flow *f)
{
	struct sink *s;
	int r;

	if (f->nsinks == 0)
		return flow_fail(f, -EINVAL);
	f->psize = f->o.pipe_size ? f->o.pipe_size : zc_pipe_max_size();
	f->qsize = f->psize;
	for (r = 0; r < f->nsinks; r++) {
		s = f->sinks[r];
		s->e.rw = s->e.kind == ZC_KIND_SOCKET && zc__is_tcp(s->e.fd) &&
		    !(f->o.flags & ZC_FLOW_SPLICE_TCP);
	}
	if (f->o.flags & ZC_FLOW_NO_SPLICE) {
		if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
			return flow_fail(f, -ENOMEM);
		f->mode = M_RW;
		return 0;
	}
	if (f->nsinks == 1) {
		s = f->sinks[0];
		f->last = 0;
		if (f->src.kind == ZC_KIND_PIPE) {
			f->mode = M_SRCPIPE;
			return 0;
		}
		if (s->e.kind == ZC_KIND_PIPE) {
			f->mode = M_SINKPIPE;
			return 0;
		}
		f->adaptive = f->src.kind == ZC_KIND_SOCKET &&
		    s->e.kind == ZC_KIND_SOCKET;
		f->mode = M_HUB;
	} else {
		f->mode = M_ROUND;
		if (f->src.kind == ZC_KIND_PIPE)
			return 0;
	}
	if ((r = pipe_get(f->loop, &f->h, f->psize)) < 0)
		return flow_fail(f, r);
	return 0;
}

/* Applies the waits the last step found; returns 0 or -1. */
static int
flow_wait(struct zc_flow *f)
{
	struct sink *s;
	int i, r, now = 0;
	uint32_t any;

	r = user_want(f->loop, &f->src.u, f->src.w);
	if (r < 0)
		return flow_fail(f, r);
	now |= r;
	any = f->src.w;
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped)
			continue;
		if ((r = user_want(f->loop, &s->e.u, s->e.w)) < 0)
			return flow_fail(f, r);
		now |= r;
		any |= s->e.w;
	}
	if (any == 0)
		return flow_fail(f, -EIO);	/* would hang: a bug */
	if (now)
		flow_ready(f);
	return 0;
}

static void flow_release(struct zc_flow *);

/* Moves bytes for f until everything it touches would block. */
static void
flow_step(struct zc_flow *f)
{
	int i, r, budget = STEP_BUDGET;

	if (f->done || f->dead)
		return;
	f->busy++;
	if (f->mode == M_SETUP && flow_setup(f) < 0)
		goto out;
	for (;;) {
		f->src.w = 0;
		for (i = 0; i < f->nsinks; i++)
			f->sinks[i]->e.w = 0;
		switch (f->mode) {
		case M_SRCPIPE:
			r = step_srcpipe(f);
			break;
		case M_SINKPIPE:
			r = step_sinkpipe(f);
			break;
		case M_HUB:
			r = step_hub(f);
			break;
		case M_ROUND:
			r = step_round(f);
			break;
		case M_RW:
			r = step_rw(f);
			break;
		default:
			r = flow_fail(f, -EIO);
			break;
		}
		if (r < 0 || f->done || f->dead)
			goto out;
		if (r == 0)
			break;
		if (--budget == 0) {
			flow_ready(f);
			goto out;
		}
	}
	flow_wait(f);
out:
	f->busy--;
	if (f->dead && f->busy == 0)
		flow_release(f);
}

/* ------------------------------------------------------------------ */
/* Public: flows                                                      */
/* ------------------------------------------------------------------ */

/* Prepares e for fd; returns 0 or -errno. */
static int
ep_init(struct zc_flow *f, struct ep *e, int fd)
{
	int k, fl, r;

	if (fd < 0)
		return -EBADF;
	if ((k = zc_fd_kind(fd)) < 0)
		return k;
	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -errno;
	e->fd = fd;
	e->kind = k;
	e->blocking = k != ZC_KIND_FILE && k != ZC_KIND_SOCKET &&
	    !(fl & O_NONBLOCK);
	e->u.type = U_FLOW;
	e->u.f = f;
	r = user_attach(f->loop, &e->u, fd, k == ZC_KIND_SOCKET);
	if (r < 0)
		return r;
	return 0;
}

struct zc_flow *
zc_flow_new(struct zc_loop *loop, int src, const struct zc_flow_opts *opts)
{
	struct zc_flow *f;
	int r;

	if (loop == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->loop = loop;
	if (opts)
		f->o = *opts;
	f->limit = f->o.limit ? f->o.limit : ZC_NO_LIMIT;
	f->h.rfd = f->h.wfd = -1;
	if ((r = ep_init(f, &f->src, src)) < 0) {
		free(f);
		errno = -r;
		return NULL;
	}
	f->last_move = loop->running ? loop->now : zc__now_ms();
	TAILQ_INSERT_TAIL(&loop->flows, f, link);
	loop->nrun++;
	flow_ready(f);
	return f;
}

int
zc_flow_add_sink(struct zc_flow *f, int fd)
{
	struct sink *s, **ns;
	int r;

	if (f == NULL || f->dead)
		return -EINVAL;
	if (f->mode != M_SETUP || f->done)
		return -EBUSY;
	ns = realloc(f->sinks, (f->nsinks + 1) * sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	f->sinks = ns;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->q.rfd = s->q.wfd = -1;
	if ((r = ep_init(f, &s->e, fd)) < 0) {
		free(s);
		return r;
	}
	f->sinks[f->nsinks] = s;
	f->nlive++;
	return f->nsinks++;
}

/* Gives back everything of f that involves descriptors. */
static void
flow_cleanup(struct zc_flow *f)
{
	struct zc_loop *l = f->loop;
	int i, j, fd;

	flow_unready(f);
	TAILQ_REMOVE(&l->flows, f, link);
	if (!f->done) {
		f->done = 1;
		l->nrun--;
	}
	flow_drop_pipes(f);
	if (TAILQ_EMPTY(&l->flows))
		loop_trim(l);
	user_detach(l, &f->src.u);
	for (i = 0; i < f->nsinks; i++)
		user_detach(l, &f->sinks[i]->e.u);
	if (!(f->o.flags & ZC_FLOW_CLOSE))
		return;
	close(f->src.fd);
	for (i = 0; i < f->nsinks; i++) {
		fd = f->sinks[i]->e.fd;
		if (fd == f->src.fd)
			continue;
		for (j = 0; j < i && f->sinks[j]->e.fd != fd; j++)
			;
		if (j == i)
			close(fd);
	}
}

static void
flow_release(struct zc_flow *f)
{
	int i;

	for (i = 0; i < f->nsinks; i++) {
		free(f->sinks[i]->e.buf);
		free(f->sinks[i]);
	}
	free(f->sinks);
	free(f->src.buf);
	free(f->buf);
	free(f);
}

void
zc_flow_free(struct zc_flow *f)
{
	if (f == NULL || f->dead)
		return;
	flow_cleanup(f);
	f->dead = 1;
	if (f->busy == 0)
		flow_release(f);
}

void
zc_flow_stats(const struct zc_flow *f, struct zc_stats *st)
{
	*st = f->src.st;
}

int
zc_flow_sink_stats(const struct zc_flow *f, int sink, struct zc_stats *st)
{
	if (sink < 0 || sink >= f->nsinks) {
		memset(st, 0, sizeof(*st));
		return -EINVAL;
	}
	*st = f->sinks[sink]->e.st;
	return f->sinks[sink]->err;
}

/* ------------------------------------------------------------------ */
/* Public: the loop                                                   */
/* ------------------------------------------------------------------ */

struct zc_loop *
zc_loop_new(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct zc_loop *l;
	int e;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->evfd = -1;
	l->devnull = -2;
	TAILQ_INIT(&l->flows);
	TAILQ_INIT(&l->ready);
	TAILQ_INIT(&l->watches);
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	if ((l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		goto fail;
	ev.data.fd = l->evfd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) == -1)
		goto fail;
	l->now = zc__now_ms();
	return l;
fail:
	e = errno;
	if (l->evfd >= 0)
		close(l->evfd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
	errno = e;
	return NULL;
}

void
zc_loop_free(struct zc_loop *l)
{
	struct zc_flow *f;
	struct watch *w;
	int i;

	if (l == NULL)
		return;
	while ((f = TAILQ_FIRST(&l->flows)) != NULL)
		zc_flow_free(f);
	while ((w = TAILQ_FIRST(&l->watches)) != NULL)
		zc_loop_unwatch(l, w->fd);
	loop_trim(l);
	for (i = 0; i < l->nfds; i++)
		free(l->fds[i]);
	free(l->fds);
	close(l->evfd);
	close(l->epfd);
	free(l);
}

void
zc_loop_stop(struct zc_loop *l)
{
	uint64_t one = 1;
	int e = errno;

	l->stop = 1;
	if (write(l->evfd, &one, sizeof(one)) == -1) {
		/* the counter is already set */
	}
	errno = e;
}

void
zc_loop_set_tick(struct zc_loop *l, int interval_ms, void (*cb)(void *),
    void *arg)
{
	l->tick_ms = cb ? (interval_ms > 0 ? interval_ms : 0) : 0;
	l->tick_cb = cb;
	l->tick_arg = arg;
	l->next_tick = (l->running ? l->now : zc__now_ms()) + l->tick_ms;
}

static struct watch *
watch_find(struct zc_loop *l, int fd)
{
	struct watch *w;

	TAILQ_FOREACH(w, &l->watches, link)
		if (w->fd == fd)
			return w;
	return NULL;
}

int
zc_loop_watch(struct zc_loop *l, int fd, unsigned events,
    void (*cb)(struct zc_loop *, int, unsigned, void *), void *arg)
{
	struct watch *w;
	int r;

	if (fd < 0 || cb == NULL || !(events & (POLLIN | POLLOUT | POLLPRI)))
		return -EINVAL;
	if (watch_find(l, fd))
		return -EEXIST;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	w->u.type = U_WATCH;
	w->u.w = w;
	if ((r = user_attach(l, &w->u, fd, 0)) < 0) {
		free(w);
		return r;
	}
	r = user_want(l, &w->u, events & (POLLIN | POLLOUT | POLLPRI));
	if (r != 0) {
		user_detach(l, &w->u);
		free(w);
		return r < 0 ? r : -EPERM;
	}
	TAILQ_INSERT_TAIL(&l->watches, w, link);
	l->nwatch++;
	return 0;
}

int
zc_loop_unwatch(struct zc_loop *l, int fd)
{
	struct watch *w;

	if ((w = watch_find(l, fd)) == NULL)
		return -ENOENT;
	TAILQ_REMOVE(&l->watches, w, link);
	l->nwatch--;
	user_detach(l, &w->u);
	free(w);
	return 0;
}

/* Wakes the users of one reported descriptor. */
static void
dispatch(struct zc_loop *l, const struct epoll_event *ev)
{
	struct fdent *fe;
	struct watch *w = NULL;
	struct user *u;
	uint32_t re = ev->events;
	uint64_t cnt;
	int fd = ev->data.fd;

	if (fd == l->evfd) {
		if (read(l->evfd, &cnt, sizeof(cnt)) == -1) {
			/* already drained */
		}
		return;
	}
	if (fd < 0 || fd >= l->nfds || (fe = l->fds[fd]) == NULL)
		return;
	LIST_FOREACH(u, &fe->users, link) {
		if (u->gen == l->gen || u->want == 0)
			continue;
		if (!(re & (u->want | EPOLLERR | EPOLLHUP)))
			continue;
		if (u->type == U_FLOW)
			flow_ready(u->f);
		else
			w = u->w;
	}
	if (w)
		w->cb(l, fd, re & (POLLIN | POLLOUT | POLLPRI | POLLERR |
		    POLLHUP), w->arg);
}

/* Runs every flow that was ready before this call. */
static void
run_ready(struct zc_loop *l)
{
	struct zc_flow_rq run;
	struct zc_flow *f;

	TAILQ_INIT(&run);
	TAILQ_CONCAT(&run, &l->ready, rlink);
	TAILQ_FOREACH(f, &run, rlink)
		f->rq = &run;
	while ((f = TAILQ_FIRST(&run)) != NULL) {
		flow_unready(f);
		flow_step(f);
	}
}

/* Ends the flows that were idle too long. */
static void
check_idle(struct zc_loop *l)
{
	struct zc_flow *f;
	int again = 1;

	while (again) {
		again = 0;
		TAILQ_FOREACH(f, &l->flows, link) {
			if (f->done || f->rq || f->o.idle_ms <= 0 ||
			    l->now - f->last_move < f->o.idle_ms)
				continue;
			f->busy++;
			flow_done(f, -ETIMEDOUT);
			f->busy--;
			if (f->dead && f->busy == 0)
				flow_release(f);
			again = 1;
			break;
		}
	}
}

/* Milliseconds epoll_wait may sleep: -1 for ever. */
static int
next_timeout(struct zc_loop *l, int timeout_ms)
{
	struct zc_flow *f;
	int64_t d = INT64_MAX;

	if (!TAILQ_EMPTY(&l->ready))
		return 0;
	if (l->tick_ms > 0)
		d = l->next_tick;
	if (timeout_ms >= 0 && l->active + timeout_ms < d)
		d = l->active + timeout_ms;
	TAILQ_FOREACH(f, &l->flows, link)
		if (!f->done && f->o.idle_ms > 0 &&
		    f->last_move + f->o.idle_ms < d)
			d = f->last_move + f->o.idle_ms;
	if (d == INT64_MAX)
		return -1;
	if (d <= l->now)
		return 0;
	return d - l->now > INT_MAX ? INT_MAX : (int)(d - l->now);
}

int
zc_loop_run(struct zc_loop *l, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int i, n, err;

	if (l->running)
		return -EBUSY;
	l->running = 1;
	l->now = zc__now_ms();
	l->active = l->now;
	if (l->tick_ms > 0)
		l->next_tick = l->now + l->tick_ms;
	for (;;) {
		if (l->stop)
			break;
		run_ready(l);
		if (l->stop)
			break;
		if (l->nrun == 0 && l->nwatch == 0) {
			err = 0;
			goto out;
		}
		l->now = zc__now_ms();
		n = epoll_wait(l->epfd, ev, MAX_EVENTS,
		    next_timeout(l, timeout_ms));
		if (n == -1 && errno != EINTR) {
			err = -errno;
			goto out;
		}
		l->now = zc__now_ms();
		l->gen++;
		for (i = 0; i < n; i++) {
			dispatch(l, &ev[i]);
			if (ev[i].data.fd != l->evfd)
				l->active = l->now;
		}
		check_idle(l);
		if (l->tick_ms > 0 && l->now >= l->next_tick) {
			l->next_tick = l->now + l->tick_ms;
			l->tick_cb(l->tick_arg);
		}
		if (timeout_ms >= 0 && l->now - l->active >= timeout_ms &&
		    TAILQ_EMPTY(&l->ready)) {
			err = -ETIMEDOUT;
			goto out;
		}
	}
	l->stop = 0;
	err = -ECANCELED;
out:
	l->running = 0;
	return err;
}
