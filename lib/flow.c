/*
 * flow.c: a flow from its creation (zc_flow_new, zc_flow_add_sink) to
 * its end and release (zc_flow_free): its source and sinks, errors and
 * dropped sinks, byte accounting (zc_flow_stats), the hops that move
 * bytes (a sink taking from a pipe, the source filling the hub pipe),
 * the single-sink step modes (M_SRCPIPE, M_SINKPIPE, M_HUB) and M_RW,
 * and flow_step, which runs a flow until it would block. A hop that the
 * kernel refuses to splice (EINVAL, ENOSYS, EOPNOTSUPP) goes on with
 * read/write through a bounce buffer; the rest stay spliced.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow-internal.h"

#define STEP_BUDGET	64		/* hops per flow before others run */

/* Whether fd has ev (POLLIN or POLLOUT) now; hang-up and error count.
 * When poll(2) itself fails (ENOMEM...), the answer is "ready": the read
 * or write that follows tells, where "not ready" would have the flow
 * wait on epoll, which says ready at once, and spin. */
static int
fd_ready(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n;

	while ((n = poll(&p, 1, 0)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return 1;
	return n > 0 && p.revents != 0;
}

/* ------------------------------------------------------------------ */
/* Flow bookkeeping                                                   */
/* ------------------------------------------------------------------ */

void
account(struct zc_flow *f, struct zc_stats *st, int method, size_t n)
{
	st->bytes += n;
	st->by_method[method] += n;
	if (f->pol.cand && !f->nopipe && st != &f->src.st)
		zc__policy_moved(&f->pol, n);
	f->last_move = f->loop->now;
	f->loop->active = f->loop->now;
}

/* Releases the pipes and buffers of a flow that has ended. */
static void
flow_drop_pipes(struct zc_flow *f)
{
	struct sink *s;
	int i;

	rest_keep(f);
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
int
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
int
flow_fail(struct zc_flow *f, int err)
{
	return flow_done(f, err);
}

/* The source failed with err; returns -1. */
int
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
	lag_free(f->loop, s);
	if (f->mode == M_ROUND && f->in_round && f->last >= 0 &&
	    f->sinks[f->last] == s) {
		f->discard += s->owed;
		s->owed = 0;
	}
	if (f->nlive == 0 && !f->live)
		rest_keep(f);
	buf_put(f->loop, &s->e.buf, &s->e.bsize);
	s->e.boff = s->e.blen = 0;
	pipe_put(f->loop, &s->q);
	if (f->nlive == 0 && !f->live)
		flow_done(f, -EPIPE);
}

/* Sink s failed with err: asks on_sink_error, drops the sink or ends the
 * flow; returns -1. */
int
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

int
src_end(const struct zc_flow *f)
{
	return f->eof || f->taken >= f->limit;
}

/* How many bytes the source may give now: what is left of the limit, and
 * with a rate what the bucket grants; 0 when it grants nothing yet (the
 * flow then sleeps on the loop's timer until f->wake_at). */
uint64_t
src_room(struct zc_flow *f)
{
	uint64_t left = f->limit - f->taken, room;
	int64_t w = 0;

	if (!f->rated)
		return left;
	room = zc__rate_room(&f->rate, f->taken, f->loop->now * 1000, left,
	    &w);
	if (room == 0) {
		f->wake_at = f->loop->now + (w + 999) / 1000;
		return 0;
	}
	return MIN(room, left);
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
ssize_t
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
ssize_t
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
	case M_RW:		/* a lossy sink's Q from its rounds */
		s->q.len -= n;
		break;
	case M_ROUND:
		if (f->last < 0 || f->sinks[f->last] != s) {
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
int
sink_take(struct zc_flow *f, struct sink *s, int rfd, uint64_t owed,
    int known, int method)
{
	size_t len;
	ssize_t n;
	int prog = 0, r;

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
			if ((r = policy_apply(f)) != 0)
				return r;
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
		f->pol.cand = 0;
		return 1;
	}
	return sink_fail(f, s, -errno);
}
/* Fills the hub pipe from the source; returns 1 when anything happened,
 * 0 when blocked or full, -1 when the flow ended. */
int
src_fill(struct zc_flow *f)
{
	struct zc_pipe *h = &f->h;
	struct ep *e = &f->src;
	size_t room = h->size > h->len ? h->size - h->len : 0;
	uint64_t allow;
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
		if (src_end(f) || room == 0 || (allow = src_room(f)) == 0)
			return 0;
		if (buf_get(f->loop, &e->buf, &e->bsize) < 0)
			return flow_fail(f, -ENOMEM);
		n = ep_read(e, e->buf, MIN(MIN(room, e->bsize), allow));
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
	if (src_end(f) || room == 0 || (allow = src_room(f)) == 0 ||
	    !ep_ready(e, POLLIN))
		return 0;
	if (f->pol.pending && f->pol.want == ZC__PM_RW)
		return 0;	/* let the sink empty H first */
	n = splice(e->fd, NULL, h->wfd, NULL, MIN(room, allow),
	    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n > 0) {
		h->len += n;
		f->taken += n;
		account(f, &e->st, ZC_METHOD_SPLICE_PIPE, n);
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
		f->pol.cand = 0;
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
	return sink_take(f, s, f->src.fd, src_room(f), 0, ZC_METHOD_SPLICE);
}

static int
step_sinkpipe(struct zc_flow *f)
{
	struct sink *s = f->sinks[f->last];
	uint64_t allow;
	ssize_t n;

	if (src_end(f))
		return flow_done(f, 0);
	if ((allow = src_room(f)) == 0 || !ep_ready(&f->src, POLLIN))
		return 0;
	n = splice(f->src.fd, NULL, s->e.fd, NULL, MIN(allow, CHUNK_MAX),
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
		f->src.rw = 1;
		f->mode = M_HUB;
		return 1;
	case EPIPE:
		return sink_fail(f, s, -EPIPE);
	}
	return src_fail(f, -errno);
}

/* Turns a one-sink flow whose pipes and buffers are empty to M_RW for
 * want of a pipe, until the budget has room (what it moves meanwhile
 * is not counted by the policy); returns 1, or -1 when the flow
 * ended. */
static int
to_rw(struct zc_flow *f)
{
	int i;

	if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
		return flow_fail(f, -ENOMEM);
	pipe_put(f->loop, &f->h);
	f->mode = M_RW;
	f->nopipe = 1;
	f->blen = 0;
	for (i = 0; i < f->nsinks; i++)
		f->sinks[i]->off = 0;
	return 1;
}

/* Gives a hub flow its pipe H as bytes may come; returns 0 with H, 1
 * when it goes on by read/write instead, -1 when the flow ended. */
static int
hub_get(struct zc_flow *f)
{
	int r;

	if ((r = pipe_get(f->loop, &f->h, f->psize)) == 0)
		return 0;
	if (!NO_PIPE(r))
		return flow_fail(f, r);
	return to_rw(f);
}

/* A hub flow with nothing in hand whose source would block gives back
 * H and its buffers: an idle flow holds no pipe. */
static void
hub_idle(struct zc_flow *f, struct sink *s)
{
	pipe_put(f->loop, &f->h);
	buf_put(f->loop, &f->src.buf, &f->src.bsize);
	buf_put(f->loop, &s->e.buf, &s->e.bsize);
}

static int
step_hub(struct zc_flow *f)
{
	struct sink *s = f->sinks[f->last];
	int prog, r;

	if (f->h.rfd < 0 && (r = hub_get(f)) != 0)
		return r;
	if ((prog = src_fill(f)) < 0)
		return -1;
	r = sink_take(f, s, f->h.rfd, f->h.len, 1, ZC_METHOD_SPLICE_PIPE);
	if (r < 0)
		return -1;
	prog |= r;
	if (f->h.len == 0 && f->src.blen == 0 && s->e.blen == 0) {
		if (src_end(f))
			return flow_done(f, 0);
		if ((r = policy_apply(f)) != 0)
			return r;
		if (prog == 0)
			hub_idle(f, s);
	}
	return prog;
}

/*
 * Writes len bytes of p to every live sink (with W_BUFFERED, only the
 * sinks of a round that take it from the buffer), each from its own
 * offset (s->roff with W_REST, else s->off). Sets *pending when a sink
 * has not had all of it; returns 1 when anything was written, 0 when
 * nothing, -1 when the flow ended.
 */
int
sinks_write(struct zc_flow *f, const char *p, size_t len, int how,
    int *pending)
{
	struct sink *s;
	size_t *off;
	ssize_t n;
	int i, prog = 0;

	*pending = 0;
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		off = how == W_REST ? &s->roff : &s->off;
		if (s->dropped || *off >= len ||
		    (how == W_BUFFERED && !s->rb))
			continue;
		if (LOSSY(s) && how != W_REST) {
			if (lag_write(f, s, p, len, off) > 0)
				prog = 1;
			if (f->done || f->dead)
				return -1;
			continue;
		}
		n = ep_write(&s->e, p + *off, len - *off);
		if (n < 0) {
			sink_fail(f, s, n);
			if (f->done || f->dead)
				return -1;
			continue;
		}
		if (n > 0) {
			*off += n;
			account(f, &s->e.st, ZC_METHOD_READ_WRITE, n);
			prog = 1;
		}
		if (*off < len)
			*pending = 1;
	}
	return prog;
}

static int
step_rw(struct zc_flow *f)
{
	uint64_t allow;
	ssize_t n;
	int i, r, prog, pending;

	if ((prog = sinks_write(f, f->buf, f->blen, W_BUF, &pending)) < 0)
		return -1;
	for (i = 0; f->nlossy && i < f->nsinks; i++) {
		if (f->sinks[i]->dropped || !LOSSY(f->sinks[i]))
			continue;
		if ((r = lag_drain(f, f->sinks[i])) > 0)
			prog = 1;
		if (f->done || f->dead)
			return -1;
	}
	if (pending || lag_hold(f))
		return prog;
	f->blen = 0;
	for (i = 0; i < f->nsinks; i++)
		f->sinks[i]->off = 0;
	if (flow_join(f) && !(f->o.flags & ZC_FLOW_NO_SPLICE)) {
		/* New sinks may be fed by tee(2): rounds again. */
		buf_put(f->loop, &f->buf, &f->bsize);
		f->in_round = 0;
		f->mode = M_ROUND;
		return 1;
	}
	if (src_end(f))
		return f->nlossy ? lag_finish(f) : flow_done(f, 0);
	if ((i = policy_apply(f)) != 0)
		return i;
	if (f->nopipe && pipe_room(f->loop)) {
		/* H is taken when bytes come (step_hub); the method the
		 * policy is on runs again, from a fresh phase. */
		f->nopipe = 0;
		buf_put(f->loop, &f->buf, &f->bsize);
		f->mode = M_HUB;
		zc__policy_switched(&f->pol);
		return 1;
	}
	if ((allow = src_room(f)) == 0)
		return prog;
	if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
		return flow_fail(f, -ENOMEM);
	n = ep_read(&f->src, f->buf, MIN(f->bsize, allow));
	if (n == -EAGAIN) {
		buf_put(f->loop, &f->buf, &f->bsize);	/* idle: give it back */
		return prog;
	}
	if (n < 0)
		return src_fail(f, n);
	if (n == 0) {
		f->eof = 1;
		return 1;
	}
	f->blen = n;
	f->taken += n;
	account(f, &f->src.st, ZC_METHOD_READ_WRITE, n);
	return 1;
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
	if (any == 0 && f->wake_at == 0)
		return flow_fail(f, -EIO);	/* would hang: a bug */
	policy_wait(f);
	if (now)
		flow_ready(f);
	return 0;
}

/* Moves bytes for f until everything it touches would block. */
void
flow_step(struct zc_flow *f)
{
	int i, r, budget = STEP_BUDGET;

	if (f->done || f->dead)
		return;
	f->busy++;
	if (f->mode == M_SETUP) {
		if (!(f->o.flags & ZC_FLOW_NO_GROW))
			flow_grow(f);
		if (flow_setup(f) < 0)
			goto out;
		rest_begin(f);
	}
	policy_woke(f);
	for (;;) {
		if (policy_apply(f) < 0)
			goto out;
		f->src.w = 0;
		f->wake_at = 0;
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
		case M_REST:
			r = step_rest(f);
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
	/* A caller built against 0.1 passes a struct that ends before
	 * rate, and never sets ZC_FLOW_RATE. */
	if (opts) {
		memcpy(&f->o, opts, offsetof(struct zc_flow_opts, rate));
		if (opts->flags & ZC_FLOW_RATE)
			f->o.rate = opts->rate;
	}
	if ((f->o.flags & ZC_FLOW_RATE) && f->o.rate > 0) {
		f->rated = 1;
		zc__rate_init(&f->rate, f->o.rate);
	}
	f->limit = f->o.limit ? f->o.limit : ZC_NO_LIMIT;
	f->live = (f->o.flags & ZC_FLOW_LIVE) != 0;
	f->h.rfd = f->h.wfd = -1;
	if ((r = ep_init(f, &f->src, src)) < 0) {
		free(f);
		errno = -r;
		return NULL;
	}
	if ((r = rest_take(f)) < 0) {
		user_detach(loop, &f->src.u);
		free(f);
		errno = -r;
		return NULL;
	}
	f->last_move = loop->running ? loop->now : zc__now_ms();
	TAILQ_INSERT_TAIL(&loop->flows, f, link);
	if (f->rated)
		loop->nrated++;
	loop->nrun++;
	flow_ready(f);
	return f;
}

int
zc_flow_add_sink(struct zc_flow *f, int fd)
{
	return zc_flow_add_sink_opts(f, fd, NULL);
}

/* A free slot for a new sink: one zc_flow_remove_sink freed, or a new
 * one at the end. Returns its index, or -ENOMEM. */
static int
sink_slot(struct zc_flow *f)
{
	struct sink *s, **ns;
	int i;

	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->removed) {
			memset(s, 0, sizeof(*s));
			s->q.rfd = s->q.wfd = -1;
			return i;
		}
	}
	ns = realloc(f->sinks, (f->nsinks + 1) * sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	f->sinks = ns;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->q.rfd = s->q.wfd = -1;
	f->sinks[f->nsinks] = s;
	return f->nsinks++;
}

int
zc_flow_add_sink_opts(struct zc_flow *f, int fd,
    const struct zc_sink_opts *so)
{
	struct sink *s;
	int i, r, started;

	if (f == NULL || f->dead)
		return -EINVAL;
	started = f->mode != M_SETUP;
	if (f->done || (started && !f->live))
		return -EBUSY;
	if ((f->o.flags & ZC_FLOW_KEEP_REST) &&
	    (f->nsinks > 0 || (so && so->max_lag)))
		return -EINVAL;
	if ((i = sink_slot(f)) < 0)
		return i;
	s = f->sinks[i];
	if ((r = ep_init(f, &s->e, fd)) < 0) {
		s->removed = s->dropped = 1;
		return r;
	}
	if (so != NULL) {
		s->close_fd = (so->flags & ZC_SINK_CLOSE) != 0;
		s->max_lag = so->max_lag;
		s->drain_ms = so->drain_ms;
	}
	if (LOSSY(s))
		f->nlossy++;
	if (started) {
		/* Counted in from the next round on (flow_join). */
		s->joining = s->dropped = 1;
		s->e.rw = sink_copy_out(f, s, 1);
		f->njoin++;
		flow_ready(f);
	} else
		f->nlive++;
	return i;
}

int
zc_flow_remove_sink(struct zc_flow *f, int sink)
{
	struct sink *s;

	if (f == NULL || f->dead || sink < 0 || sink >= f->nsinks ||
	    f->sinks[sink]->removed)
		return -EINVAL;
	s = f->sinks[sink];
	f->busy++;
	if (s->joining) {
		s->joining = 0;
		f->njoin--;
	} else if (!s->dropped && f->mode == M_SETUP)
		f->nlive--;	/* not started: nothing to end */
	else if (!s->dropped && !f->done)
		sink_drop(f, s);
	s->dropped = 1;
	lag_free(f->loop, s);
	buf_put(f->loop, &s->e.buf, &s->e.bsize);
	s->e.boff = s->e.blen = 0;
	user_detach(f->loop, &s->e.u);
	if (s->close_fd)
		close(s->e.fd);
	s->removed = 1;
	if (f->live)
		pool_trim(f->loop);
	if (!f->done)
		flow_ready(f);
	f->busy--;
	if (f->dead && f->busy == 0)
		flow_release(f);
	return 0;
}

/* Gives back everything of f that involves descriptors. */
static void
flow_cleanup(struct zc_flow *f)
{
	struct zc_loop *l = f->loop;
	int i, j, fd;

	flow_unready(f);
	TAILQ_REMOVE(&l->flows, f, link);
	if (f->rated)
		l->nrated--;
	if (!f->done) {
		f->done = 1;
		l->nrun--;
	}
	flow_drop_pipes(f);
	if (TAILQ_EMPTY(&l->flows))
		loop_trim(l);
	user_detach(l, &f->src.u);
	for (i = 0; i < f->nsinks; i++) {
		if (f->sinks[i]->removed)
			continue;
		user_detach(l, &f->sinks[i]->e.u);
		lag_free(l, f->sinks[i]);
		if (f->sinks[i]->close_fd && !(f->o.flags & ZC_FLOW_CLOSE))
			close(f->sinks[i]->e.fd);
	}
	if (!(f->o.flags & ZC_FLOW_CLOSE))
		return;
	close(f->src.fd);
	for (i = 0; i < f->nsinks; i++) {
		fd = f->sinks[i]->e.fd;
		if (fd == f->src.fd || f->sinks[i]->removed)
			continue;
		for (j = 0; j < i && f->sinks[j]->e.fd != fd; j++)
			;
		if (j == i)
			close(fd);
	}
}

void
flow_release(struct zc_flow *f)
{
	int i;

	for (i = 0; i < f->nsinks; i++) {
		free(f->sinks[i]->e.buf);
		free(f->sinks[i]->spill);
		free(f->sinks[i]);
	}
	free(f->sinks);
	free(f->src.buf);
	free(f->buf);
	free(f->rest);
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
	if (sink < 0 || sink >= f->nsinks || f->sinks[sink]->removed) {
		memset(st, 0, sizeof(*st));
		return -EINVAL;
	}
	*st = f->sinks[sink]->e.st;
	return f->sinks[sink]->err;
}
