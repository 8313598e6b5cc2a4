/*
 * flow-internal.h: what the files of the flow engine share (loop.c,
 * pool.c, flow.c, fanout.c, policy.c, rest.c): the loop, flow, sink and
 * descriptor structures, the engine's limits, and the functions one of
 * those files calls in another. Not installed.
 *
 * The server layer (server.c) uses the loop's watches and timers only.
 *
 * A flow runs in one of these modes, chosen when it first runs:
 *   M_SRCPIPE   one sink, the source is a pipe: splice source -> sink
 *   M_SINKPIPE  one sink that is a pipe: splice source -> sink
 *   M_HUB       one sink, neither a pipe: source -> owned pipe H -> sink
 *   M_ROUND     several sinks: rounds over S (the source pipe, or H);
 *               some sinks by tee(2), others from one shared buffer
 *   M_RW        read/write through one buffer (ZC_FLOW_NO_SPLICE, or
 *               chosen by the measured policy for a socket sink)
 *   M_REST      first of all, write the rest an earlier flow on the same
 *               source left (rest.c), then go on in the mode chosen
 *
 * A live flow (ZC_FLOW_LIVE), and one with a lossy sink, runs only in
 * M_ROUND and M_RW, whatever its number of sinks: sinks join between
 * rounds (or between two buffers in M_RW), and a lossy sink behind the
 * others is handed its bytes from its own Q and spill (lag.c).
 */
#ifndef ZC_FLOW_INTERNAL_H
#define ZC_FLOW_INTERNAL_H

#include <sys/queue.h>
#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define POOL_MAX	64		/* spare pipes kept by a loop */
#define CHUNK_MAX	((size_t)1 << 30)

#define IDLE_MS		50		/* a longer wait on the source is idle */
#define PATH_KINDS	5		/* tcp, unix, pipe, file, other */

#define MIN(a, b)	((a) < (b) ? (a) : (b))

enum mode { M_SETUP, M_SRCPIPE, M_SINKPIPE, M_HUB, M_ROUND, M_RW, M_REST };
enum utype { U_FLOW, U_WATCH };

struct fdent;
struct watch;
struct zc_loop;

/* A one-shot timer of the loop (loop.c), kept in the struct of its user
 * (server.c): cb runs from zc_loop_run once the time has come. An armed
 * timer keeps zc_loop_run running. */
struct timer {
	TAILQ_ENTRY(timer) link;
	int64_t at;		/* ms (zc__now_ms); 0: not armed */
	uint64_t gen;		/* the loop's timer pass it was armed in */
	void (*cb)(struct zc_loop *, void *);
	void *arg;
};

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
	struct zc_pipe q;	/* M_ROUND, a sink fed by tee(2) */
	uint64_t owed;		/* M_ROUND last sink: bytes still in S */
	size_t off;		/* M_RW, M_ROUND buffered: offset in f->buf */
	int nopipe;		/* M_ROUND: never a pipe (none to be had,
				 * or splice refused): always buffered */
	int rb;			/* M_ROUND: this round from f->buf */
	size_t roff;		/* M_REST: offset in the flow's rest */
	/* Live flows and lossy sinks (lag.c). */
	int joining;		/* added while the flow runs: counted as
				 * dropped until the next round begins */
	int removed;		/* zc_flow_remove_sink: the slot is free */
	int close_fd;		/* ZC_SINK_CLOSE */
	uint64_t max_lag;	/* 0: lossless */
	int drain_ms;
	char *spill;		/* lossy: bytes kept after those in Q */
	size_t scap, shead, slen;	/* spill[shead, shead + slen) */
	int late;		/* lossy, this round: Q had bytes at its start */
	size_t skip;		/* lossy, this round: bytes of it already in
				 * Q, left out of the buffer's */
	uint64_t seen;		/* e.st.bytes when last looked at ... */
	int64_t seen_at;	/* ... and when (ms): the drain's clock */
};

/* Bytes a ZC_FLOW_KEEP_REST flow read from fd and did not deliver. */
struct rest {
	LIST_ENTRY(rest) link;
	int fd;
	dev_t dev;		/* fd's file when they were kept */
	ino_t ino;
	int eof;		/* the source had ended after them */
	char *buf;
	size_t off, len;	/* buf[off, len) are still to go */
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
	int last;		/* M_ROUND: the sink that reads S itself, or
				 * -1 when the round reads S into f->buf */
	int in_round;
	uint64_t rleft;		/* M_ROUND: bytes of the round still in S,
				 * to be read into f->buf */
	int notee;		/* M_ROUND: tee(2) refused */
	int filebuf;		/* M_ROUND: file-like sinks are buffered */
	uint64_t tee_ns;	/* M_ROUND: measured ns per MiB of one tee */
	uint64_t read_ns;	/* M_ROUND: measured ns per MiB of a read */
	unsigned tee_n, read_n;	/* M_ROUND: samples in tee_ns, read_ns */
	int bufwarm;		/* M_ROUND: f->buf was read into before */
	uint64_t discard;	/* M_ROUND: bytes of a dropped last sink */
	struct zc_pipe h;	/* hub pipe; rfd -1 when none */
	size_t psize;		/* owned pipes' wanted size */
	size_t qsize;		/* M_ROUND: size of every Q (all equal) */
	uint64_t taken;		/* bytes taken in from the source */
	char *buf;		/* M_RW, M_ROUND buffered sinks */
	size_t bsize, blen;
	int64_t last_move;
	struct zc__policy pol;	/* one socket sink: the measured choice */
	int64_t pol_wait;	/* ms the flow began to wait idle, or 0 */
	char *rest;		/* M_REST: bytes of an earlier flow */
	size_t rlen;
	enum mode after;	/* M_REST: the mode to go on in */
	int nopipe;		/* M_RW for want of a pipe: back to M_HUB
				   once the budget has room */
	int rated;		/* ZC_FLOW_RATE with a rate */
	struct zc__rate rate;
	int64_t wake_at;	/* ms: the bucket refills, or a lossy sink's
				   drain time is up; 0: not waiting */
	int live;		/* ZC_FLOW_LIVE */
	int nlossy;		/* sinks with a max_lag, live or not */
	int njoin;		/* sinks waiting to join */
	int nullrw;		/* M_ROUND: splice to /dev/null refused */
	int nbehind;		/* M_ROUND: lossy sinks behind, buffered */
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
	int nrated;		/* flows with a rate (ZC_FLOW_RATE) */
	int running;
	uint64_t gen;
	int64_t now;
	int64_t active;
	int tick_ms;
	int64_t next_tick;
	void (*tick_cb)(void *);
	void *tick_arg;
	TAILQ_HEAD(, timer) timers;	/* armed, in no order */
	int ntimers;
	uint64_t tgen;		/* timer passes so far */
	struct zc_pipe pool[POOL_MAX];
	int npool;
	size_t poolbytes;
	size_t bigbytes;	/* BUF_BIG buffers handed out */
	LIST_HEAD(, rest) rests;	/* kept for the next flows */
	/* What the measured policy learned, by source and sink kind. */
	struct zc__hints hints[PATH_KINDS][PATH_KINDS];
	char *sparebuf;		/* one BUF_BIG buffer kept for reuse */
	/* The pipe budget (pool.c): bytes of owned pipes, lent and spare. */
	size_t pbudget;		/* from the sysctl; SIZE_MAX: no limit;
				   0: not read yet */
	size_t pheld;
	int plent;		/* owned pipes lent to flows */
	size_t plearned;	/* what the kernel let us hold when it
				   last refused more */
	int64_t prefused;	/* when that was (0: never) */
};

/* loop.c */
int	user_attach(struct zc_loop *, struct user *, int, int);
void	user_detach(struct zc_loop *, struct user *);
int	user_want(struct zc_loop *, struct user *, uint32_t);
void	flow_ready(struct zc_flow *);
void	flow_unready(struct zc_flow *);
void	timer_init(struct timer *, void (*)(struct zc_loop *, void *),
	    void *);
void	timer_arm(struct zc_loop *, struct timer *, int);
void	timer_disarm(struct zc_loop *, struct timer *);

/* pool.c */
/* pipe_get's answers that mean "no pipe to be had": go on by read/write. */
#define NO_PIPE(err)	((err) == -ENOBUFS || (err) == -EMFILE || \
			    (err) == -ENFILE || (err) == -ENOMEM)
size_t	pipe_budget(struct zc_loop *);
size_t	pipe_share(struct zc_loop *, int);
int	pipe_room(struct zc_loop *);
int	pipe_get(struct zc_loop *, struct zc_pipe *, size_t);
int	pipe_resize(struct zc_loop *, struct zc_pipe *, size_t);
void	pipe_put(struct zc_loop *, struct zc_pipe *);
void	flow_grow(struct zc_flow *);
void	loop_trim(struct zc_loop *);
void	pool_trim(struct zc_loop *);
int	loop_devnull(struct zc_loop *);
int	buf_get(struct zc_loop *, char **, size_t *);
void	buf_put(struct zc_loop *, char **, size_t *);

/* flow.c */
void	account(struct zc_flow *, struct zc_stats *, int, size_t);
int	flow_done(struct zc_flow *, int);
int	flow_fail(struct zc_flow *, int);
int	src_fail(struct zc_flow *, int);
int	sink_fail(struct zc_flow *, struct sink *, int);
ssize_t	ep_write(struct ep *, const char *, size_t);
enum { W_BUF, W_BUFFERED, W_REST };	/* sinks_write: which sinks, offset */
int	sinks_write(struct zc_flow *, const char *, size_t, int, int *);
int	src_end(const struct zc_flow *);
int	sink_take(struct zc_flow *, struct sink *, int, uint64_t, int, int);
int	src_fill(struct zc_flow *);
uint64_t src_room(struct zc_flow *);
ssize_t	ep_read(struct ep *, char *, size_t);
void	flow_step(struct zc_flow *);
void	flow_release(struct zc_flow *);

/* fanout.c */
int	step_round(struct zc_flow *);

/* lag.c */
#define LOSSY(s)	((s)->max_lag != 0)
int	lag_caught_up(const struct sink *);
int	lag_hold(const struct zc_flow *);
int	lag_fits(const struct sink *, uint64_t);
int	lag_write(struct zc_flow *, struct sink *, const char *, size_t,
	    size_t *);
int	lag_drain(struct zc_flow *, struct sink *);
int	lag_finish(struct zc_flow *);
void	lag_free(struct zc_loop *, struct sink *);
int	flow_join(struct zc_flow *);

/* rest.c */
void	rest_keep(struct zc_flow *);
int	rest_take(struct zc_flow *);
void	rest_begin(struct zc_flow *);
int	step_rest(struct zc_flow *);
void	rest_free_all(struct zc_loop *);

/* policy.c */
int	sink_copy_out(const struct zc_flow *, const struct sink *, int);
int	flow_setup(struct zc_flow *);
int	policy_apply(struct zc_flow *);
void	policy_wait(struct zc_flow *);
void	policy_woke(struct zc_flow *);

#endif
