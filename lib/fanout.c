/*
 * fanout.c: M_ROUND, a flow with several sinks. Each round tee(2)s the
 * head of S (the source pipe, or the hub pipe H) into an owned pipe Q
 * for every live sink but the last, which takes its bytes from S itself;
 * the next round starts once every sink has its share. A dropped last
 * sink's bytes are discarded from S into /dev/null.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "flow-internal.h"

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
		if (s->q.rfd < 0 && (r = pipe_get(f->loop, &s->q, f->qsize)) &&
		    (!NO_PIPE(r) ||
		    (r = pipe_get_any(f->loop, &s->q, f->qsize))))
			return r;
		if (s->q.size < min)
			min = s->q.size;
	}
	f->qsize = min;
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || s->q.rfd < 0 || s->q.size == min)
			continue;
		if ((r = pipe_resize(f->loop, &s->q, min)) < 0)
			return r;
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
		if ((max = src_room(f)) == 0)
			return 0;
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

int
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
