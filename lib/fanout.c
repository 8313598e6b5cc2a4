/*
 * fanout.c: M_ROUND, a flow with several sinks, in rounds over S (the
 * source pipe, or the hub pipe H). A round takes n bytes from the head
 * of S. A piped sink gets them in an owned pipe Q by tee(2), which
 * copies without consuming; a buffered sink gets them from the flow's
 * one buffer, which the round fills by reading those n bytes out of S
 * (a buffer at a time) once every Q has them, as tee(1) does. When no
 * sink is buffered, the last sink takes its bytes from S itself. The
 * next round starts once every sink has its share.
 *
 * A sink is buffered for good when it cannot have a pipe (no descriptor
 * or pipe memory left, a pipe capped at 2 pages: pipe_get failing for
 * any reason never ends the flow) or refuses splice, and
 * every sink once tee(2) is refused; file-like sinks are buffered when
 * their tee(2)s, as measured, cost more than the one read(2) (see
 * zc_loop_new(3)). With every sink buffered, or no H to be had, the
 * flow goes on as M_RW. A dropped last sink's bytes are discarded from
 * S.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "flow-internal.h"

#define PIPE_CAPPED	8192	/* 2 pages: the size past the pipe budget */
#define SEED_RATIO	16	/* read(2)/tee(2) cost until both are known */
#define MEASURE_MIN	(32 * 1024)	/* smaller moves cost their call */
#define MEASURE_N	8	/* samples of each before they decide */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Folds a move of len bytes that took ns into est (ns per MiB): a
 * cheaper sample is taken at once, a dearer one moves est by a 16th of
 * the difference, at most 4 times est, so that calls preempted on a
 * busy host do not decide. Moves below MEASURE_MIN are not counted:
 * what they cost is the call, not the bytes. */
static void
measure(uint64_t *est, unsigned *cnt, int64_t ns, uint64_t len)
{
	uint64_t v;

	if (len < MEASURE_MIN || ns < 0)
		return;
	if (*cnt < MEASURE_N)
		(*cnt)++;
	v = ((uint64_t)ns << 20) / len;
	if (v == 0)
		v = 1;
	if (*est == 0 || v < *est)
		*est = v;
	else
		*est += (MIN(v, *est * 4) - *est) / 16;
}

static int
tee_refused(int err)
{
	return err == ENOSYS || err == EINVAL || err == EPERM ||
	    err == EOPNOTSUPP;
}

/* Whether s is written to like a file: splice(2) into it copies as
 * write(2) does, so a Q saves nothing but the read into the buffer. */
static int
filelike(const struct sink *s)
{
	return s->e.kind != ZC_KIND_PIPE && s->e.kind != ZC_KIND_SOCKET;
}

/* Closes p without pooling it (a capped pipe is of no use to anyone). */
static void
pipe_close(struct zc_pipe *p)
{
	close(p->rfd);
	close(p->wfd);
	p->rfd = p->wfd = -1;
	p->len = 0;
}

/* Whether every live sink is to be written from the buffer. */
static int
every_buffered(const struct zc_flow *f)
{
	const struct sink *s;
	int i;

	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || s->nopipe || s->e.rw || f->notee ||
		    (f->filebuf && filelike(s)))
			continue;
		return 0;
	}
	return 1;
}

/*
 * Whether nfile file-like sinks are to be buffered: their nfile - 1
 * tee(2)s (the last one would splice from S) against the one read(2)
 * that fills the buffer, by the costs measured so far. Until both are
 * known (MEASURE_N samples each), many files are buffered at once, and
 * fewer are piped until tee(2) is known, then buffered.
 */
static int
files_buffered(struct zc_flow *f, int nfile)
{
	uint64_t tees;

	if (nfile < 2)
		return 0;
	if (f->tee_n < MEASURE_N || f->read_n < MEASURE_N) {
		if (nfile - 1 > SEED_RATIO)
			return 1;
		return f->tee_n >= MEASURE_N;
	}
	tees = (uint64_t)(nfile - 1) * f->tee_ns;
	if (f->filebuf)
		return tees * 2 > f->read_ns;
	return tees > f->read_ns;
}

/* Goes on as M_RW between rounds, with no byte left in H or a Q. */
static int
round_to_rw(struct zc_flow *f)
{
	struct sink *s;
	int i;

	if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
		return flow_fail(f, -ENOMEM);
	pipe_put(f->loop, &f->h);
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (!LOSSY(s) || s->q.len == 0)
			pipe_put(f->loop, &s->q);
		s->off = 0;
		s->rb = 0;
	}
	f->blen = 0;
	f->last = -1;
	f->mode = M_RW;
	return 1;
}

static int round_plan(struct zc_flow *);

/* Gives a flow whose source is not a pipe its hub pipe H; returns 0,
 * 1 after going on as M_RW instead, or -1 when the flow ended. */
static int
round_hub(struct zc_flow *f)
{
	int r;

	if ((r = round_plan(f)) < 0)
		return flow_fail(f, r);
	if (r == f->nlive && f->nbehind == 0)
		return round_to_rw(f);
	if (pipe_get(f->loop, &f->h, f->psize) < 0)
		return round_to_rw(f);
	if (f->h.size <= PIPE_CAPPED && f->psize > PIPE_CAPPED) {
		pipe_close(&f->h);
		return round_to_rw(f);
	}
	return 0;
}

/*
 * Chooses how each live sink gets this round's bytes (s->rb: from the
 * buffer), gives each piped one but the last an empty Q, all of one
 * size, and sets f->last (-1 when some sink is buffered). A pipe that
 * cannot be had makes its sink buffered. A lossy sink is never the last
 * (the round would wait for it), and one that is behind takes this
 * round from the buffer, after what it holds (f->nbehind of them).
 * Returns the number of buffered sinks, or -EIO.
 */
static int
round_plan(struct zc_flow *f)
{
	struct sink *s;
	size_t min = f->qsize;
	int i, r, nfile, nbuf, forced, again;

	do {
		forced = nfile = nbuf = again = 0;
		f->nbehind = 0;
		for (i = 0; i < f->nsinks; i++) {
			s = f->sinks[i];
			if (s->dropped)
				continue;
			if (s->e.rw && s->e.blen == 0 && !s->nopipe) {
				s->nopipe = 1;
				buf_put(f->loop, &s->e.buf, &s->e.bsize);
			}
			s->rb = s->nopipe || f->notee;
			if (s->rb)
				forced = 1;
			else if (filelike(s))
				nfile++;
		}
		f->filebuf = forced || files_buffered(f, nfile);
		f->last = -1;
		for (i = 0; i < f->nsinks; i++) {
			s = f->sinks[i];
			if (s->dropped)
				continue;
			if (f->filebuf && filelike(s))
				s->rb = 1;
			if (!s->rb && LOSSY(s) && (s->slen || s->e.blen)) {
				s->rb = 1;
				f->nbehind++;
			}
			if (s->rb)
				nbuf++;
			if (!LOSSY(s))
				f->last = i;
		}
		if (nbuf > 0)
			f->last = -1;
		min = f->qsize;
		for (i = 0; i < f->nsinks && !again; i++) {
			s = f->sinks[i];
			if (s->dropped)
				continue;
			if (s->rb || i == f->last) {
				if (s->q.len == 0)
					pipe_put(f->loop, &s->q);
				continue;
			}
			if (s->q.rfd < 0) {
				r = pipe_get(f->loop, &s->q, f->qsize);
				if (r == 0 && s->q.size <= PIPE_CAPPED &&
				    f->qsize > PIPE_CAPPED) {
					pipe_close(&s->q);
					r = -ENOMEM;
				}
				if (r < 0) {
					s->nopipe = again = 1;
					continue;
				}
			}
			if (s->q.size < min)
				min = s->q.size;
		}
	} while (again);
	f->qsize = min;
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || s->q.rfd < 0 || s->q.size == min ||
		    s->q.len > 0)
			continue;
		if ((r = pipe_resize(f->loop, &s->q, min)) < 0)
			return r;
		if (s->q.size != min)
			return -EIO;
	}
	return nbuf;
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

/* Reads up to len bytes of the round out of S into the buffer;
 * returns the count, 0 at the source's end, -EAGAIN or -errno. */
static ssize_t
round_read(struct zc_flow *f, int spipe, int known, size_t len)
{
	int64_t t0 = now_ns();
	ssize_t n;

	if (len > f->bsize)
		len = f->bsize;
	if (known) {
		do
			n = read(spipe, f->buf, len);
		while (n == -1 && errno == EINTR);
		if (n <= 0)
			return n == 0 ? -EIO : -errno;
	} else if ((n = ep_read(&f->src, f->buf, len)) <= 0)
		return n;
	/* The first read into a new buffer pays its page faults. */
	if (f->bufwarm)
		measure(&f->read_ns, &f->read_n, now_ns() - t0, n);
	f->bufwarm = 1;
	if (f->h.rfd >= 0)
		f->h.len -= n;
	else
		account(f, &f->src.st, ZC_METHOD_READ_WRITE, n);
	f->blen = n;
	return n;
}

static int flow_end(struct zc_flow *);

/* How many bytes the source pipe holds now, at most max, when no tee(2)
 * told: 0 when none yet (the flow waits for them), -1 when the flow
 * ended (at the source's end). */
static ssize_t
src_avail(struct zc_flow *f, uint64_t max)
{
	struct pollfd p = { .fd = f->src.fd, .events = POLLIN };
	int avail = 0;

	if (ioctl(f->src.fd, FIONREAD, &avail) == 0 && avail > 0)
		return MIN((uint64_t)avail, max);
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) &&
	    (ioctl(f->src.fd, FIONREAD, &avail) != 0 || avail == 0)) {
		f->eof = 1;
		flow_end(f);
		return f->done || f->dead ? -1 : 0;
	}
	f->src.w |= EPOLLIN;
	return 0;
}

/* The source has ended: done, once lossy sinks have had their rest. */
static int
flow_end(struct zc_flow *f)
{
	return f->nlossy ? lag_finish(f) : flow_done(f, 0);
}

/* Starts a round: copies the head of S into every Q and, with buffered
 * sinks, the first of it into the buffer. Returns 1 when a round
 * started or the flow changed mode, 0 when there is nothing to send
 * yet, -1 when the flow ended. */
static int
round_start(struct zc_flow *f)
{
	int hub = f->h.rfd >= 0;
	int spipe = hub ? f->h.rfd : f->src.fd;
	struct sink *s;
	uint64_t max;
	ssize_t n = -1, m;
	int64_t t0;
	int i, r, nbuf, ntee = 0, err, pass, behind;

	for (i = f->nsinks - 1; i >= 0 && f->sinks[i]->dropped; i--)
		;
	if (f->nlive == 1 && !f->live && !f->nlossy) {
		f->last = i;
		pipe_put(f->loop, &f->sinks[i]->q);
		f->mode = hub ? M_HUB : M_SRCPIPE;
		return 1;
	}
	if ((nbuf = round_plan(f)) < 0)
		return flow_fail(f, nbuf);
	if (nbuf == f->nlive && f->nbehind == 0 &&
	    (!hub || (f->h.len == 0 && f->src.blen == 0)))
		return round_to_rw(f);
	if (hub) {
		/* H is not filled while every sink was buffered. */
		while (f->h.len == 0) {
			if (src_end(f) && f->src.blen == 0)
				return flow_end(f);
			if ((r = src_fill(f)) <= 0)
				return r;
		}
		max = f->h.len;
	} else {
		if (src_end(f))
			return flow_end(f);
		if ((max = src_room(f)) == 0)
			return 0;
	}
	if (max > f->qsize)
		max = f->qsize;
	t0 = now_ns();
	/* Lossy sinks with bytes in their Q tee(2) only once a round's size
	 * is known (pass 1): a short tee into them cannot decide it. */
	for (i = 0; i < f->nsinks; i++)
		f->sinks[i]->late = LOSSY(f->sinks[i]) &&
		    f->sinks[i]->q.len > 0;
	for (pass = 0; pass < 2; pass++)
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || s->rb || i == f->last)
			continue;
		behind = s->late;
		if (behind != pass)
			continue;
		if (LOSSY(s) && ((behind && n < 0) ||
		    !lag_fits(s, n < 0 ? max : (uint64_t)n))) {
			/* From the buffer: kept for it, or it is cut. */
			s->rb = 1;
			s->skip = 0;
			nbuf++;
			continue;
		}
		if (f->notee) {
			m = -1;
			err = ENOSYS;
		} else {
			m = tee_empty(spipe, s->q.wfd, n < 0 ? max : (size_t)n,
			    hub || n >= 0);
			err = m < 0 ? errno : 0;
		}
		if (m > 0 && (n < 0 || m == n)) {
			n = m;
			s->q.len += m;
			ntee++;
			continue;
		}
		if (LOSSY(s) && n >= 0) {
			/* Short: the rest of the round from the buffer, after
			 * the m bytes it has in Q. */
			if (m == -1 && tee_refused(err))
				f->notee = 1;
			s->skip = m > 0 ? m : 0;
			s->q.len += s->skip;
			s->rb = 1;
			nbuf++;
			continue;
		}
		if (n < 0 && !f->notee) {
			if (m == -1 && err == EAGAIN && !hub) {
				f->src.w |= EPOLLIN;
				return 0;
			}
			if (m == 0 && !hub) {
				f->eof = 1;
				return flow_end(f);
			}
			if (!tee_refused(err))
				return hub ? flow_fail(f, -EIO) :
				    src_fail(f, -err);
		}
		/* Refused, or short: this sink (and the rest, once tee is
		 * refused) takes this round from the buffer; a Q holding
		 * part of the round is closed. */
		if (m == -1 && tee_refused(err))
			f->notee = 1;
		s->q.len = m > 0 ? m : 0;
		if (s->q.len)
			pipe_close(&s->q);
		else
			pipe_put(f->loop, &s->q);
		s->rb = 1;
		nbuf++;
	}
	if (ntee > 0)
		measure(&f->tee_ns, &f->tee_n, (now_ns() - t0) / ntee, n);
	if (nbuf > 0 && f->last >= 0) {
		f->sinks[f->last]->rb = 1;
		f->last = -1;
	}
	if (n < 0 && hub)
		n = max;
	else if (n < 0 && nbuf == 0 && f->last >= 0 &&
	    (n = src_avail(f, max)) <= 0)
		return n < 0 ? -1 : 0;	/* the one sink takes S alone */
	f->rleft = 0;
	f->blen = 0;
	if (nbuf > 0) {
		if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
			return flow_fail(f, -ENOMEM);
		for (i = 0; i < f->nsinks; i++)
			f->sinks[i]->off = 0;
		if (n < 0) {
			/* Nothing was tee'd from the source pipe: read it. */
			m = round_read(f, spipe, 0, max);
			if (m == -EAGAIN)
				return 0;
			if (m < 0)
				return src_fail(f, m);
			if (m == 0) {
				f->eof = 1;
				return flow_end(f);
			}
			f->taken += m;
			f->in_round = 1;
			return 1;
		}
		f->rleft = n;
	}
	if (f->last >= 0)
		f->sinks[f->last]->owed = n;
	else if (nbuf == 0)
		f->discard = n;		/* no sink takes S: lossy ones only */
	if (!hub)
		f->taken += n;
	f->in_round = 1;
	return 1;
}

/* Writes the buffer to the buffered sinks, and reads the next part of
 * the round out of S once all have it. Returns 1 when anything
 * happened, 0 when blocked, -1 when the flow ended. */
static int
round_buffer(struct zc_flow *f, int spipe)
{
	ssize_t n;
	int i, r, prog = 0, pending;

	for (;;) {
		if ((r = sinks_write(f, f->buf, f->blen, W_BUFFERED,
		    &pending)) < 0)
			return -1;
		prog |= r;
		if (pending || f->rleft == 0)
			return prog;
		if ((n = round_read(f, spipe, 1, f->rleft)) < 0)
			return flow_fail(f, n);
		f->rleft -= n;
		for (i = 0; i < f->nsinks; i++)
			f->sinks[i]->off = 0;
		prog = 1;
	}
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

	n = -1;
	errno = EINVAL;
	if (null >= 0 && !f->nullrw)
		n = splice(spipe, NULL, null, NULL, MIN(f->discard, CHUNK_MAX),
		    SPLICE_F_NONBLOCK);
	if (n == -1 && (errno == EINVAL || errno == ENOSYS ||
	    errno == EOPNOTSUPP)) {
		f->nullrw = null >= 0;	/* splice refused: read from now on */
		n = read(spipe, tmp, MIN(f->discard, sizeof(tmp)));
	}
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

int
step_round(struct zc_flow *f)
{
	int hub, spipe;
	struct sink *s;
	int i, r, prog = 0, busy = 0;

	if (f->src.kind != ZC_KIND_PIPE && f->h.rfd < 0 &&
	    (r = round_hub(f)) != 0)
		return r;
	hub = f->h.rfd >= 0;
	spipe = hub ? f->h.rfd : f->src.fd;
	if (hub && (!every_buffered(f) || f->src.blen) &&
	    (prog = src_fill(f)) < 0)
		return -1;
	/* Lossy sinks take what the flow holds for them first. */
	for (i = 0; f->nlossy && i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || !LOSSY(s))
			continue;
		if ((r = lag_drain(f, s)) > 0)
			prog = 1;
		if (f->done || f->dead)
			return -1;
	}
	if (!f->in_round) {
		if (lag_hold(f))
			return prog;	/* the fastest lossy sink leads */
		if (flow_join(f))
			prog = 1;
		if ((r = round_start(f)) <= 0)
			return r < 0 ? -1 : prog;
		if (f->mode != M_ROUND)
			return 1;
		prog = 1;
	}
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || s->rb || LOSSY(s))
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
	if ((r = round_buffer(f, spipe)) < 0)
		return -1;
	prog |= r;
	if (f->discard) {
		if (round_discard(f) < 0)
			return -1;
		prog = 1;
	}
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || LOSSY(s))
			continue;
		if (s->e.blen || (i == f->last ? s->owed != 0 :
		    s->rb ? s->off < f->blen : s->q.len != 0))
			busy = 1;
	}
	if (!busy && f->discard == 0 && f->rleft == 0) {
		f->in_round = 0;
		f->blen = 0;
		prog = 1;
	}
	return prog;
}
