/*
 * rate.c: the token bucket behind ZC_XFER_RATE and ZC_FLOW_RATE. It
 * says how many bytes a source may give now; the caller moves at most
 * that and waits (zc_transfer sleeps, a flow sets a loop timer) when it
 * says 0. The bucket holds at most a fiftieth of a second's bytes, so
 * that no one-second window carries more than 2% over the rate, which
 * leaves room for the scheduler moving a call by tens of milliseconds
 * before the 5% we promise. It grants a two-hundredth of a second's bytes
 * at a time (4 KiB, or a quarter of the bucket when that is less, at slow
 * rates), so that slow rates do not turn into a splice(2) per byte; the
 * rest of the bucket absorbs a wake-up that comes up to 15 ms late
 * without slowing the rate.
 */
#include "internal.h"

void
zc__rate_init(struct zc__rate *r, uint64_t rate)
{
	r->rate = rate;
	r->burst = rate / 50 > 0 ? rate / 50 : 1;
	r->quantum = r->burst / 4 < 4096 ? r->burst / 4 : 4096;
	if (r->quantum < rate / 200)
		r->quantum = rate / 200;
	if (r->quantum == 0)
		r->quantum = 1;
	r->tokens = (double)r->burst;
	r->t_us = -1;
	r->taken = 0;
}

uint64_t
zc__rate_room(struct zc__rate *r, uint64_t taken, int64_t now_us,
    uint64_t left, int64_t *wait_us)
{
	uint64_t need;

	if (r->t_us < 0) {
		r->t_us = now_us;
		r->taken = taken;
	}
	r->tokens -= (double)(taken - r->taken);
	r->taken = taken;
	if (now_us > r->t_us) {
		r->tokens += (double)(now_us - r->t_us) * r->rate / 1e6;
		r->t_us = now_us;
	}
	if (r->tokens > (double)r->burst)
		r->tokens = (double)r->burst;
	need = left < r->quantum ? left : r->quantum;
	if (r->tokens >= (double)need)
		return (uint64_t)r->tokens;
	*wait_us = (int64_t)(((double)need - r->tokens) * 1e6 / r->rate) + 1;
	return 0;
}
