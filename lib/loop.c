/*
 * loop.c: the event loop of the flow engine. One thread, one epoll set
 * (level-triggered), an eventfd for zc_loop_stop, deadlines (tick, idle,
 * run timeout, a rated flow's refilled bucket, the internal one-shot
 * timers of the server layer) through the epoll_wait timeout. It owns the
 * descriptor table and its epoll registrations (users, O_NONBLOCK while
 * in use), the ready list of flows, the watches, the timers, dispatch of
 * reported events, and the public zc_loop_* calls.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow-internal.h"

#define MAX_EVENTS	64

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
int
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
void
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
int
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
/* The ready list                                                     */
/* ------------------------------------------------------------------ */

void
flow_ready(struct zc_flow *f)
{
	if (f->rq || f->done || f->dead)
		return;
	f->rq = &f->loop->ready;
	TAILQ_INSERT_TAIL(f->rq, f, rlink);
}

void
flow_unready(struct zc_flow *f)
{
	if (f->rq == NULL)
		return;
	TAILQ_REMOVE(f->rq, f, rlink);
	f->rq = NULL;
}
/* ------------------------------------------------------------------ */
/* Timers (one-shot, for the server layer)                            */
/* ------------------------------------------------------------------ */

void
timer_init(struct timer *t, void (*cb)(struct zc_loop *, void *), void *arg)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
}

/* Arms t to run in ms milliseconds (0: on the loop's next turn),
 * re-arming it when it was armed. */
void
timer_arm(struct zc_loop *l, struct timer *t, int ms)
{
	timer_disarm(l, t);
	t->at = (l->running ? l->now : zc__now_ms()) + (ms > 0 ? ms : 0);
	if (t->at <= 0)
		t->at = 1;
	t->gen = l->tgen;
	TAILQ_INSERT_TAIL(&l->timers, t, link);
	l->ntimers++;
}

void
timer_disarm(struct zc_loop *l, struct timer *t)
{
	if (t->at == 0)
		return;
	TAILQ_REMOVE(&l->timers, t, link);
	l->ntimers--;
	t->at = 0;
}

/* Runs the timers that are due and were armed before this pass; a
 * callback may arm, disarm or free any timer. */
static void
run_timers(struct zc_loop *l)
{
	struct timer *t;
	uint64_t pass;

	if (l->ntimers == 0)
		return;
	pass = ++l->tgen;
	for (;;) {
		TAILQ_FOREACH(t, &l->timers, link)
			if (t->at <= l->now && t->gen < pass)
				break;
		if (t == NULL)
			return;
		timer_disarm(l, t);
		t->cb(l, t->arg);
	}
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
	TAILQ_INIT(&l->timers);
	LIST_INIT(&l->rests);
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
	while (!TAILQ_EMPTY(&l->timers))
		timer_disarm(l, TAILQ_FIRST(&l->timers));
	rest_free_all(l);
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

/* Readies the flows whose rate bucket has refilled, or whose lossy
 * sinks' drain time is up. */
static void
wake_rated(struct zc_loop *l)
{
	struct zc_flow *f;

	TAILQ_FOREACH(f, &l->flows, link)
		if (!f->done && f->wake_at > 0 && l->now >= f->wake_at) {
			f->wake_at = 0;
			flow_ready(f);
		}
}

/* Milliseconds epoll_wait may sleep: -1 for ever. */
static int
next_timeout(struct zc_loop *l, int timeout_ms)
{
	struct zc_flow *f;
	struct timer *t;
	int64_t d = INT64_MAX;

	if (!TAILQ_EMPTY(&l->ready))
		return 0;
	if (l->tick_ms > 0)
		d = l->next_tick;
	TAILQ_FOREACH(t, &l->timers, link)
		if (t->at < d)
			d = t->at;
	if (timeout_ms >= 0 && l->active + timeout_ms < d)
		d = l->active + timeout_ms;
	TAILQ_FOREACH(f, &l->flows, link) {
		if (!f->done && f->o.idle_ms > 0 &&
		    f->last_move + f->o.idle_ms < d)
			d = f->last_move + f->o.idle_ms;
		if (!f->done && f->wake_at > 0 && f->wake_at < d)
			d = f->wake_at;
	}
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
		if (l->nrun == 0 && l->nwatch == 0 && l->ntimers == 0) {
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
		wake_rated(l);
		run_timers(l);
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
