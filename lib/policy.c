/*
 * policy.c: how bytes move where more than one method could move them.
 * The measured choice (zc__policy_*, shared with zc_transfer) runs the
 * candidate methods (splice out, copy out, read/write) in alternating
 * phases, measures each phase by what the user pays per byte, uses the
 * best for a longer phase and probes the others again after it, less
 * often while it keeps winning, at once when the average move grows or
 * shrinks fourfold. For the flow engine it also holds flow_setup, which
 * chooses a flow's mode and candidates once its sinks are known, and
 * policy_apply, which makes a switch the policy asked for once the
 * bytes in flight allow it.
 *
 * A phase is measured by its wall and CPU ns per byte. Wall runs from
 * the phase's first move to its last, less the gaps of IDLE_MS (50 ms)
 * or more in which the flow held no byte and waited only for its
 * source: the peer had nothing to send, and no method is
 * faster there. Shorter waits count: a bulk sender held up for a few ms
 * on a busy host comes back with a socket buffer full of bytes that
 * then move at once, and leaving its wait out would credit the phase
 * with them. Waits for a sink to drain count too, since the method can
 * cause them. CPU is this thread's (CLOCK_THREAD_CPUTIME_ID) over the
 * whole phase, every system call and the network stack's work done on
 * its behalf included: the cost of splicing into TCP is not all in the
 * splice call, so timing the calls alone misleads. Each of the two is
 * kept per method as the mean of its last phase and its figure before;
 * the flow's first phase is not measured, since it pays for the start,
 * and each phase's clocks start after SETTLE_BYTES, since the costs of
 * a splice into TCP come partly later (when the peer takes the bytes)
 * and the last method's would be billed to this one. A method whose wall
 * time per byte is more than 1.5 times the fastest's cannot win: that
 * is a loss of throughput the user sees, and a method that makes the
 * flow wait costs little CPU while it waits. Among the others the least
 * CPU per byte wins, the last winner keeping a 10% edge: on a shared,
 * noisy host CPU is much the steadier of the two (wall time per byte of
 * one method varied 3x from phase to phase at a load of 20 on 2 cores,
 * its CPU 1.5x), so a smaller wall margin, or a product of the two,
 * would decide by the noise.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <string.h>

#include "flow-internal.h"

#define PROBE_BYTES	((uint64_t)2 << 20)	/* a probe moves this */
#define PROBE_NS	(2 * 1000000LL)		/* and lasts this long, */
#define PROBE_MAX_NS	(100 * 1000000LL)	/* or this, when slow */
#define SETTLE_BYTES	((uint64_t)2 << 20)	/* moved before the clocks
						   start in each phase */
#define PROBE_MOVES	16			/* ... and this many moves */
#define SAMPLE_BYTES	(64 * 1024)		/* clock read after this */
#define SAMPLE_MOVES	64			/* or after this many moves */
#define MULT_START	16			/* first exploit: 16 probes */
#define MULT_MAX	1024			/* doubling while it wins */
#define KEEP		0.9			/* the winner's edge */
#define CHANGE		4	/* the average move grew or shrank this
				   much: measure again */
#define SLOW		1.5	/* wall time per byte beyond the fastest's
				   this much cannot win */

static int64_t
cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The chunk size class of an average move of avg bytes. */
static int
chunk_class(uint64_t avg)
{
	int c = 0;

	for (avg >>= 12; avg > 0 && c < ZC__PM_CLASSES - 1; avg >>= 2)
		c++;
	return c;
}

/* The lowest method in the set m. */
static int
first(unsigned m)
{
	int i;

	for (i = 0; i < ZC__PM_COUNT - 1 && !(m & ZC__PM_BIT(i)); i++)
		;
	return i;
}

static void
phase_start(struct zc__policy *p)
{
	p->bytes = p->moves = p->cbytes = p->cmoves = 0;
	p->wall0 = p->cpu0 = 0;
	p->idle = 0;
}

/* Asks for method m for the next phase; returns 1 when that is a
 * switch. */
static int
ask(struct zc__policy *p, int m)
{
	phase_start(p);
	p->want = m;
	if (m == p->cur)
		return 0;
	p->pending = 1;
	return 1;
}

void
zc__policy_init(struct zc__policy *p, unsigned cand, struct zc__hints *h)
{
	memset(p, 0, sizeof(*p));
	p->best = -1;
	p->cur = p->want = first(cand);
	if ((cand & (cand - 1)) == 0)
		return;		/* nothing to choose from */
	p->cand = cand;
	p->hints = h;
	p->mult = MULT_START;
	p->warm = 1;
	if (h != NULL && h->cls[h->last].valid &&
	    (cand & ZC__PM_BIT(h->cls[h->last].best))) {
		/* Start with what won last on this kind of path. */
		p->cur = p->want = p->best = h->cls[h->last].best;
		return;
	}
	p->probing = 1;
	p->left = cand & ~ZC__PM_BIT(p->cur);
}

/* The round is measured: picks the one with the least CPU time per
 * byte of the methods whose wall time per byte is within SLOW of the
 * fastest's, the last winner keeping a small edge; returns it. */
static int
decide(struct zc__policy *p)
{
	double c, bc = 0, fast = 0;
	int m, cls, best = -1;

	for (m = 0; m < ZC__PM_COUNT; m++)
		if ((p->cand & ZC__PM_BIT(m)) && p->wall[m] > 0 &&
		    (fast == 0 || p->wall[m] < fast))
			fast = p->wall[m];
	for (m = 0; m < ZC__PM_COUNT; m++) {
		if (!(p->cand & ZC__PM_BIT(m)) || p->wall[m] <= 0 ||
		    p->wall[m] > fast * SLOW)
			continue;
		c = p->cpu[m];
		if (m == p->best)
			c *= KEEP;
		if (best < 0 || c < bc) {
			best = m;
			bc = c;
		}
	}
	if (best == p->best)
		p->mult = p->mult * 2 > MULT_MAX ? MULT_MAX : p->mult * 2;
	else
		p->mult = MULT_START;
	p->best = best;
	p->ref = p->mavg[best];
	cls = chunk_class(p->ref);
	p->probing = 0;
	p->decisions++;
	if (p->hints != NULL) {
		p->hints->cls[cls].valid = 1;
		p->hints->cls[cls].best = best;
		p->hints->last = cls;
	}
	return best;
}

/* Folds a phase's cost per byte c into a method's running figure *v:
 * half the last phase, half the figure before, so that one noisy phase
 * does not decide alone and a real change shows within two rounds. */
static void
mean(double *v, double c)
{
	*v = *v > 0 ? (*v + c) / 2 : c;
}

/* The running phase is over after el ns of wall and cpu ns of CPU;
 * returns what ask() says about the next one. */
static int
phase_end(struct zc__policy *p, int64_t el, int64_t cpu)
{
	double b = (double)p->bytes;

	if (el < 1)
		el = 1;
	if (cpu < 1)
		cpu = 1;
	if (p->warm) {
		/* The flow's first phase pays for its start (slow start,
		 * cold caches, the peer's own start): not measured. */
		p->warm = 0;
		return ask(p, p->cur);
	}
	mean(&p->wall[p->cur], (double)el / b);
	mean(&p->cpu[p->cur], (double)cpu / b);
	p->mavg[p->cur] = p->bytes / p->moves;
	if (!p->probing) {
		/* The winner's phase measured it anew: probe the others. */
		p->probing = 1;
		p->left = p->cand & ~ZC__PM_BIT(p->cur);
	}
	if (p->left != 0) {
		p->want = first(p->left);
		p->left &= ~ZC__PM_BIT(p->want);
		return ask(p, p->want);
	}
	return ask(p, decide(p));
}

int
zc__policy_moved(struct zc__policy *p, size_t n)
{
	int64_t now, el, len;
	uint64_t avg;

	if (p->cand == 0 || p->pending)
		return 0;
	if (p->wall0 == 0) {
		/* The clocks start once the phase has moved SETTLE_BYTES:
		 * what the last method left queued in the sockets is
		 * paid for (freed, received, acknowledged) meanwhile, and
		 * would be billed to this one. */
		p->bytes += n;
		if (p->bytes < SETTLE_BYTES)
			return 0;
		p->bytes = 0;
		p->wall0 = zc__now_ns();
		p->cpu0 = cpu_ns();
		return 0;
	}
	p->bytes += n;
	p->moves++;
	if (p->bytes - p->cbytes < SAMPLE_BYTES &&
	    p->moves - p->cmoves < SAMPLE_MOVES)
		return 0;
	p->cbytes = p->bytes;
	p->cmoves = p->moves;
	now = zc__now_ns();
	el = now - p->wall0 - p->idle;
	len = p->probing ? 1 : p->mult;
	avg = p->bytes / p->moves;
	if (!p->probing && p->ref != 0 && p->bytes >= 4 * PROBE_BYTES &&
	    p->moves >= PROBE_MOVES && (avg > p->ref * CHANGE ||
	    avg * CHANGE < p->ref)) {
		/* The chunks changed: measure all again, afresh. */
		p->mult = MULT_START;
		p->best = -1;
		memset(p->wall, 0, sizeof(p->wall));
		memset(p->cpu, 0, sizeof(p->cpu));
		return phase_end(p, el, cpu_ns() - p->cpu0);
	}
	if (!(p->bytes >= PROBE_BYTES * len && el >= PROBE_NS * len) &&
	    !(el >= PROBE_MAX_NS * len && p->moves >= PROBE_MOVES))
		return 0;
	return phase_end(p, el, cpu_ns() - p->cpu0);
}

void
zc__policy_switched(struct zc__policy *p)
{
	p->cur = p->want;
	p->pending = 0;
	phase_start(p);
}

void
zc__policy_idle(struct zc__policy *p, int64_t ns)
{
	if (p->wall0 != 0)
		p->idle += ns;
}

/* ------------------------------------------------------------------ */
/* The flow engine's side                                             */
/* ------------------------------------------------------------------ */

/* Index of an fd kind in the loop's hint table. */
static int
path_kind(const struct ep *e)
{
	switch (e->kind) {
	case ZC_KIND_SOCKET:
		return zc__is_tcp(e->fd) ? 0 : 1;
	case ZC_KIND_PIPE:
		return 2;
	case ZC_KIND_FILE:
		return 3;
	}
	return 4;
}

/* Makes the flow move by method m from the start. */
static int
policy_begin(struct zc_flow *f, int m)
{
	f->sinks[0]->e.rw = m == ZC__PM_COPY;
	if (m != ZC__PM_RW)
		return 0;
	if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
		return flow_fail(f, -ENOMEM);
	pipe_put(f->loop, &f->h);
	f->mode = M_RW;
	return 0;
}

/*
 * Chooses the flow's mode once its sinks are known; returns 0 or -1.
 * A single sink that is a socket is fed by the measured choice between
 * splicing into it, copying out of the pipe into it (splice in, read,
 * write) and, when the source is not a pipe, read/write, unless a flag
 * forces one of them. With several sinks, a TCP sink is copied out
 * unless ZC_FLOW_SPLICE_TCP (rounds are not measured), and every socket
 * sink with ZC_FLOW_COPY_OUT. Other sinks are spliced.
 */
/* Whether socket sink s is written by copy out (read from its pipe or
 * the round's buffer, then write(2)): forced by ZC_FLOW_COPY_OUT, and
 * TCP sinks of a fan-out (shared) unless ZC_FLOW_SPLICE_TCP: on
 * loopback, 4 receivers of a live flow got 1 GiB each in 1.0 s by copy
 * out against 1.3 to 1.4 s by splice(2) of tee(2)d pages. */
int
sink_copy_out(const struct zc_flow *f, const struct sink *s, int shared)
{
	return s->e.kind == ZC_KIND_SOCKET &&
	    ((f->o.flags & ZC_FLOW_COPY_OUT) ||
	    (shared && zc__is_tcp(s->e.fd) &&
	    !(f->o.flags & ZC_FLOW_SPLICE_TCP)));
}

int
flow_setup(struct zc_flow *f)
{
	struct zc_loop *l = f->loop;
	struct sink *s;
	unsigned cand;
	int r;

	if (f->nsinks == 0 && !f->live)
		return flow_fail(f, -EINVAL);
	f->psize = f->o.pipe_size ? f->o.pipe_size : zc_pipe_max_size();
	f->qsize = MIN(f->psize, pipe_share(f->loop,
	    f->nsinks > 0 ? f->nsinks : 1));
	for (r = 0; r < f->nsinks; r++) {
		s = f->sinks[r];
		s->e.rw = sink_copy_out(f, s, f->nsinks > 1 || f->live);
	}
	if (f->o.flags & ZC_FLOW_NO_SPLICE) {
		if (buf_get(l, &f->buf, &f->bsize) < 0)
			return flow_fail(f, -ENOMEM);
		f->mode = M_RW;
		return 0;
	}
	if (f->nsinks > 1 || f->live || f->nlossy) {
		f->mode = M_ROUND;	/* fanout.c makes H if it can */
		return 0;
	}
	s = f->sinks[0];
	f->last = 0;
	if (s->e.kind == ZC_KIND_PIPE && f->src.kind != ZC_KIND_PIPE) {
		f->mode = M_SINKPIPE;
		return 0;
	}
	/* M_HUB takes H when bytes come (step_hub). */
	f->mode = f->src.kind == ZC_KIND_PIPE ? M_SRCPIPE : M_HUB;
	if (s->e.kind != ZC_KIND_SOCKET || f->rated ||
	    (f->o.flags & (ZC_FLOW_SPLICE_TCP | ZC_FLOW_COPY_OUT)))
		return 0;	/* a rated flow's waits are its rate's */
	cand = ZC__PM_BIT(ZC__PM_SPLICE) | ZC__PM_BIT(ZC__PM_COPY);
	if (f->mode == M_HUB)
		cand |= ZC__PM_BIT(ZC__PM_RW);
	zc__policy_init(&f->pol, cand,
	    &l->hints[path_kind(&f->src)][path_kind(&s->e)]);
	return policy_begin(f, f->pol.cur);
}

/*
 * Makes the switch the policy asked for if the bytes in flight allow
 * it: between splice and copy out once the sink's buffer is empty, to
 * read/write once the hub pipe is empty too, from read/write once its
 * buffer is written. Returns 1 when switched, 0 when not yet, -1 when
 * the flow ended.
 */
int
policy_apply(struct zc_flow *f)
{
	struct sink *s;
	int want = f->pol.want;

	if (!f->pol.pending || f->src.rw || f->sinks[0]->e.blen)
		return 0;
	s = f->sinks[0];
	switch (f->mode) {
	case M_SRCPIPE:
		s->e.rw = want != ZC__PM_SPLICE;
		break;
	case M_HUB:
		if (want != ZC__PM_RW) {
			s->e.rw = want == ZC__PM_COPY;
			break;
		}
		if (f->h.len)
			return 0;
		if (buf_get(f->loop, &f->buf, &f->bsize) < 0)
			return flow_fail(f, -ENOMEM);
		pipe_put(f->loop, &f->h);
		buf_put(f->loop, &s->e.buf, &s->e.bsize);
		f->blen = s->off = 0;
		f->mode = M_RW;
		break;
	case M_RW:
		if (f->blen)
			return 0;
		if (want == ZC__PM_RW) {
			/* In M_RW for want of a pipe: it now stays. */
			f->nopipe = 0;
			break;
		}
		if (f->nopipe && !pipe_room(f->loop))
			return 0;	/* no pipe to go back to yet */
		/* H is taken when bytes come (step_hub). */
		f->nopipe = 0;
		buf_put(f->loop, &f->buf, &f->bsize);
		s->e.rw = want == ZC__PM_COPY;
		f->mode = M_HUB;
		break;
	default:
		return 0;	/* M_REST: once it goes on in its mode */
	}
	zc__policy_switched(&f->pol);
	return 1;
}

/* Whether the flow holds no byte and waits for its source only: the
 * start of an idle gap. */
void
policy_wait(struct zc_flow *f)
{
	struct sink *s;

	f->pol_wait = 0;
	if (f->pol.cand == 0)
		return;
	s = f->sinks[0];
	if (f->src.w != EPOLLIN || s->e.w != 0 ||
	    f->h.len || f->blen || s->e.blen || f->src.blen)
		return;
	f->pol_wait = f->loop->now;
}

/* The flow runs again: a gap of IDLE_MS or more is not counted. */
void
policy_woke(struct zc_flow *f)
{
	int64_t gap;

	if (f->pol_wait == 0)
		return;
	gap = f->loop->now - f->pol_wait;
	f->pol_wait = 0;
	if (gap >= IDLE_MS)
		zc__policy_idle(&f->pol, gap * 1000000);
}
