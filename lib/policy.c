/*
 * policy.c: how a flow moves its bytes. flow_setup chooses the mode once
 * the sinks are known, and the copy-out rule for TCP sinks;
 * adapt_average counts the moves of an adaptive (socket -> socket) flow,
 * which switches from splice to read/write when the average splice is
 * below ADAPT_LOW and back when the average read is above ADAPT_HIGH.
 */
#include <errno.h>

#include "flow-internal.h"

/* Counts a move of n bytes (n > 0) of an adaptive flow; returns the
 * average move once ADAPT_WINDOW of them are counted (and starts
 * over), else 0. */
uint64_t
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

/*
 * Chooses the flow's mode once its sinks are known; returns 0 or -1.
 * A TCP sink is written with write(2) from a buffer read out of the
 * pipe (copy-out) unless ZC_FLOW_SPLICE_TCP: since Linux 6.5, splice
 * into TCP (MSG_SPLICE_PAGES) costs more than that copy, measured at
 * 0.6x on loopback for a relay (bench/run net, zcat-net --splice-tcp).
 * Bytes still come in by splice; other sinks are spliced as before.
 */
int
flow_setup(struct zc_flow *f)
{
	struct sink *s;
	int r;

	if (f->nsinks == 0)
		return flow_fail(f, -EINVAL);
	f->psize = f->o.pipe_size ? f->o.pipe_size : zc_pipe_max_size();
	f->qsize = MIN(f->psize, pipe_share(f->loop, f->nsinks));
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
		f->mode = M_HUB;	/* H is taken when bytes come */
		return 0;
	}
	f->mode = M_ROUND;	/* fanout.c makes H if it can */
	return 0;
}
