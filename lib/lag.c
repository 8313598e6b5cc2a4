/*
 * lag.c: lossy sinks (zc_sink_opts.max_lag) and the joining of sinks to
 * a live flow. A lossy sink never holds up a round: what it has not
 * taken when the round moves on stays with it, in its own Q (bytes
 * tee(2)d to it) and then in its spill (bytes copied out of the round's
 * buffer), and it is handed them in that order. Its lag is what the flow
 * holds for it; one that would hold more than max_lag is dropped through
 * on_sink_error with -ZC_ELAG. With no lossless sink left, the flow goes
 * at the pace of its fastest lossy sink (lag_hold): the others fall
 * behind that one, never the flow behind them. Once the source has
 * ended, a lossy sink that takes nothing for drain_ms is dropped the
 * same way (lag_finish), so that a stalled reader cannot hold the end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow-internal.h"

#define DRAIN_MS	2000	/* zc_sink_opts.drain_ms 0 */
#define SPILL_MIN	(64 * 1024)

/* What the flow holds for s. */
static uint64_t
lag_of(const struct sink *s)
{
	return s->q.len + s->slen + (s->e.blen - s->e.boff);
}

/* Whether s has everything it was given so far. */
int
lag_caught_up(const struct sink *s)
{
	return lag_of(s) == 0 && s->skip == 0;
}

/* Whether n more bytes would keep s within its max_lag. */
int
lag_fits(const struct sink *s, uint64_t n)
{
	return lag_of(s) + n <= s->max_lag;
}

/* Whether the flow must wait before it takes more from the source: it
 * has live sinks, all of them lossy, and none has caught up yet. */
int
lag_hold(const struct zc_flow *f)
{
	const struct sink *s;
	int i, lossy = 0;

	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped)
			continue;
		if (!LOSSY(s) || lag_caught_up(s))
			return 0;
		lossy = 1;
	}
	return lossy;
}

/* Keeps len bytes of p for s after what it holds; drops s when that
 * would put it past max_lag. Returns 0, or -1 when s was dropped. */
static int
lag_keep(struct zc_flow *f, struct sink *s, const char *p, size_t len)
{
	size_t cap;
	char *n;

	if (len == 0)
		return 0;
	if (!lag_fits(s, len)) {
		sink_fail(f, s, -ZC_ELAG);
		return -1;
	}
	if (s->shead + s->slen + len > s->scap) {
		if (s->shead > 0) {
			memmove(s->spill, s->spill + s->shead, s->slen);
			s->shead = 0;
		}
		if (s->slen + len > s->scap) {
			cap = s->scap ? s->scap : SPILL_MIN;
			while (cap < s->slen + len)
				cap *= 2;
			if (cap > s->max_lag && s->slen + len <= s->max_lag)
				cap = s->max_lag;
			if ((n = realloc(s->spill, cap)) == NULL) {
				sink_fail(f, s, -ENOMEM);
				return -1;
			}
			s->spill = n;
			s->scap = cap;
		}
	}
	memcpy(s->spill + s->shead + s->slen, p, len);
	s->slen += len;
	return 0;
}

/*
 * Hands lossy sink s the bytes p[*off, len) of the flow's buffer: the
 * part of a round already in its Q (s->skip) is left out; a sink that
 * has caught up is written to at once, and what it does not take is
 * kept for it, as is all of it for a sink that is behind. *off becomes
 * len: a lossy sink never leaves the buffer pending. Returns 1 when
 * anything was written, 0 when not, -1 when s was dropped (the flow may
 * have ended: f->done).
 */
int
lag_write(struct zc_flow *f, struct sink *s, const char *p, size_t len,
    size_t *off)
{
	size_t n;
	ssize_t w = 0;

	if (*off >= len)
		return 0;
	n = len - *off;
	if (s->skip >= n) {
		s->skip -= n;
		*off = len;
		return 0;
	}
	*off += s->skip;
	s->skip = 0;
	if (lag_caught_up(s)) {
		w = ep_write(&s->e, p + *off, len - *off);
		if (w < 0) {
			sink_fail(f, s, w);
			return -1;
		}
		if (w > 0) {
			account(f, &s->e.st, ZC_METHOD_READ_WRITE, w);
			*off += w;
		}
	}
	if (lag_keep(f, s, p + *off, len - *off) < 0)
		return -1;
	*off = len;
	return w > 0;
}

/* Hands lossy sink s what the flow holds for it: its Q first, then its
 * spill. Returns 1 when anything moved, 0 when blocked or nothing to
 * do, -1 when s was dropped or the flow ended. */
int
lag_drain(struct zc_flow *f, struct sink *s)
{
	ssize_t n;
	int r, prog = 0;

	if (s->q.len || s->e.blen) {
		r = sink_take(f, s, s->q.rfd, s->q.len, 1,
		    ZC_METHOD_SPLICE_PIPE);
		if (r < 0 || s->dropped)
			return -1;
		prog = r;
		if (s->q.len || s->e.blen)
			return prog;
	}
	while (s->slen > 0) {
		n = ep_write(&s->e, s->spill + s->shead, s->slen);
		if (n < 0) {
			sink_fail(f, s, n);
			return -1;
		}
		if (n == 0)
			break;
		account(f, &s->e.st, ZC_METHOD_READ_WRITE, n);
		s->shead += n;
		s->slen -= n;
		prog = 1;
	}
	if (s->slen == 0) {
		s->shead = 0;
		if (s->scap > SPILL_MIN) {	/* caught up: memory back */
			free(s->spill);
			s->spill = NULL;
			s->scap = 0;
		}
	}
	return prog;
}

/*
 * The source has ended and every lossless sink has every byte: the flow
 * is done once each lossy sink has had what the flow holds for it, or
 * was dropped for taking nothing for its drain_ms. Returns -1 when the
 * flow ended, else 0 (it waits on the sinks and on f->wake_at).
 */
int
lag_finish(struct zc_flow *f)
{
	struct sink *s;
	int64_t now = f->loop->now, wake = 0, by;
	int i, ms;

	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (s->dropped || !LOSSY(s) || lag_caught_up(s))
			continue;
		if (s->seen_at == 0 || s->e.st.bytes != s->seen) {
			s->seen = s->e.st.bytes;
			s->seen_at = now;
		}
		ms = s->drain_ms > 0 ? s->drain_ms : DRAIN_MS;
		by = s->seen_at + ms;
		if (now >= by) {
			sink_fail(f, s, -ZC_ELAG);
			if (f->done || f->dead)
				return -1;
			continue;
		}
		if (wake == 0 || by < wake)
			wake = by;
	}
	if (wake == 0)
		return flow_done(f, 0);
	f->wake_at = wake;
	return 0;
}

/* Gives back what a lossy sink holds: its Q (closed when bytes are in
 * it) and its spill. */
void
lag_free(struct zc_loop *l, struct sink *s)
{
	pipe_put(l, &s->q);
	free(s->spill);
	s->spill = NULL;
	s->scap = s->shead = s->slen = s->skip = 0;
}

/* Lets the sinks added while the flow ran take part from here on: at
 * the start of a round, or between two buffers in M_RW. Returns 1 when
 * any joined. */
int
flow_join(struct zc_flow *f)
{
	struct sink *s;
	int i, n = 0;

	if (f->njoin == 0)
		return 0;
	for (i = 0; i < f->nsinks; i++) {
		s = f->sinks[i];
		if (!s->joining)
			continue;
		s->joining = 0;
		s->dropped = 0;
		s->off = 0;
		s->skip = 0;
		f->nlive++;
		n++;
	}
	f->njoin = 0;
	return n > 0;
}
