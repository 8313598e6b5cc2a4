/*
 * server.c: the server layer on the loop. A server accepts connections
 * on a listening socket the caller made, up to a cap at once (the rest
 * wait in the backlog, or are accepted and closed with ZC_SERVER_REFUSE),
 * pauses on a shortage of descriptors or memory and tries again on a
 * timer; a connect resolves a spec and connects without blocking, each
 * address in turn, within a timeout. Both use only the loop's watches
 * and timers (loop.c).
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow-internal.h"
#include "zerocopy.h"

#define PAUSE_MS	100	/* retry accepting after a shortage */
#define UNIX_RETRY_MS	50	/* retry a unix connect to a full backlog */

#define SHORTAGE(err)	((err) == -EMFILE || (err) == -ENFILE || \
			    (err) == -ENOBUFS || (err) == -ENOMEM)

struct zc_server {
	struct zc_loop *loop;
	int lfd;
	struct zc_server_opts o;
	int count;		/* given and not yet done */
	int watching;		/* lfd is watched */
	int paused;		/* waiting on the timer after a shortage */
	int resuming;		/* the retry after a pause: RESUMED is due */
	int failed;
	int busy;		/* inside a callback */
	int dead;		/* freed from inside a callback */
	struct timer t;
};

/* ------------------------------------------------------------------ */
/* Servers                                                            */
/* ------------------------------------------------------------------ */

static void sv_ready(struct zc_loop *, int, unsigned, void *);

/* Watches lfd or not, as the state says; returns 0 or -errno. */
static int
sv_sync(struct zc_server *sv)
{
	int want, r;

	want = !sv->paused && !sv->failed && !sv->dead &&
	    (sv->o.max_conns <= 0 || sv->count < sv->o.max_conns ||
	    (sv->o.flags & ZC_SERVER_REFUSE));
	if (want == sv->watching)
		return 0;
	if (!want) {
		zc_loop_unwatch(sv->loop, sv->lfd);
		sv->watching = 0;
		return 0;
	}
	if ((r = zc_loop_watch(sv->loop, sv->lfd, POLLIN, sv_ready, sv)) < 0)
		return r;
	sv->watching = 1;
	return 0;
}

static void
sv_event(struct zc_server *sv, enum zc_server_event ev, int err, int fd)
{
	if (sv->o.on_event != NULL)
		sv->o.on_event(sv, ev, err, fd, sv->o.arg);
}

/* Accepts what the backlog holds, as the cap allows; returns 1 when sv
 * was freed by a callback. */
static int
sv_accept(struct zc_server *sv)
{
	int s, r;

	sv->busy++;
	while (!sv->dead && !sv->failed && !sv->paused) {
		if (sv->o.max_conns > 0 && sv->count >= sv->o.max_conns &&
		    !(sv->o.flags & ZC_SERVER_REFUSE))
			break;
		s = zc_accept(sv->lfd, sv->o.open_flags & ZC_OPEN_NONBLOCK, 0);
		if (s == -EINTR)
			continue;
		if (sv->resuming && (s >= 0 || s == -EAGAIN ||
		    s == -EWOULDBLOCK || s == -ETIMEDOUT)) {
			sv->resuming = 0;
			sv_event(sv, ZC_SERVER_EV_RESUMED, 0, -1);
			if (sv->dead || sv->failed) {
				if (s >= 0)
					close(s);
				break;
			}
		}
		if (s == -EAGAIN || s == -EWOULDBLOCK || s == -ETIMEDOUT)
			break;
		if (SHORTAGE(s)) {
			sv->paused = 1;
			timer_arm(sv->loop, &sv->t, PAUSE_MS);
			sv_event(sv, ZC_SERVER_EV_PAUSED, s, -1);
			break;
		}
		if (s < 0) {
			sv->failed = 1;
			sv_sync(sv);
			sv_event(sv, ZC_SERVER_EV_FAILED, s, -1);
			break;
		}
		if (sv->o.max_conns > 0 && sv->count >= sv->o.max_conns) {
			sv_event(sv, ZC_SERVER_EV_REFUSED, 0, s);
			close(s);
			continue;
		}
		sv->count++;
		sv->o.on_accept(sv, s, sv->o.arg);
	}
	if (!sv->dead && (r = sv_sync(sv)) < 0 && !sv->failed) {
		sv->failed = 1;
		sv_event(sv, ZC_SERVER_EV_FAILED, r, -1);
	}
	sv->busy--;
	if (sv->dead && sv->busy == 0) {
		free(sv);
		return 1;
	}
	return 0;
}

static void
sv_ready(struct zc_loop *l, int fd, unsigned revents, void *arg)
{
	sv_accept(arg);
}

/* The pause is over: try at once. A try that accepts or finds the
 * backlog empty ends the pause (RESUMED, before the connection it took);
 * a shortage that lasts is another PAUSED and another wait. */
static void
sv_retry(struct zc_loop *l, void *arg)
{
	struct zc_server *sv = arg;

	sv->paused = 0;
	sv->resuming = 1;
	sv_accept(sv);
}

struct zc_server *
zc_server_new(struct zc_loop *loop, int lfd,
    const struct zc_server_opts *opts)
{
	struct zc_server *sv;
	int r;

	if (loop == NULL || lfd < 0 || opts == NULL ||
	    opts->on_accept == NULL || opts->max_conns < 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		return NULL;
	sv->loop = loop;
	sv->lfd = lfd;
	sv->o = *opts;
	timer_init(&sv->t, sv_retry, sv);
	if ((r = sv_sync(sv)) < 0) {
		free(sv);
		errno = -r;
		return NULL;
	}
	return sv;
}

void
zc_server_done(struct zc_server *sv)
{
	if (sv == NULL || sv->count == 0)
		return;
	sv->count--;
	if (!sv->busy)
		sv_sync(sv);
	/* inside sv_accept: its loop goes on past the cap by itself */
}

int
zc_server_count(const struct zc_server *sv)
{
	return sv != NULL ? sv->count : 0;
}

void
zc_server_free(struct zc_server *sv)
{
	if (sv == NULL || sv->dead)
		return;
	if (sv->watching)
		zc_loop_unwatch(sv->loop, sv->lfd);
	sv->watching = 0;
	timer_disarm(sv->loop, &sv->t);
	sv->dead = 1;
	if (sv->busy == 0)
		free(sv);
}

/* ------------------------------------------------------------------ */
/* Connects                                                           */
/* ------------------------------------------------------------------ */

struct zc_connect {
	struct zc_loop *loop;
	struct zc_spec src;
	int has_src;
	unsigned flags;
	struct addrinfo *ai;	/* the resolved addresses */
	struct addrinfo *cur;	/* the one being tried */
	struct sockaddr_un sun;
	int is_unix;
	int fd;			/* the connecting socket, or -1 */
	int err;		/* the last failure */
	struct timer deadline;
	struct timer again;	/* a retry, or the callback from start */
	void (*cb)(struct zc_connect *, int, void *);
	void *arg;
};

static void cn_try(struct zc_connect *);

static void
cn_free(struct zc_connect *c)
{
	timer_disarm(c->loop, &c->deadline);
	timer_disarm(c->loop, &c->again);
	if (c->fd >= 0) {
		zc_loop_unwatch(c->loop, c->fd);
		close(c->fd);
	}
	if (c->ai != NULL)
		freeaddrinfo(c->ai);
	free(c);
}

/* Calls back once with fd (connected) or the error, and frees c. */
static void
cn_finish(struct zc_connect *c, int r)
{
	void (*cb)(struct zc_connect *, int, void *) = c->cb;
	void *arg = c->arg;

	if (r >= 0) {
		zc_loop_unwatch(c->loop, c->fd);
		c->fd = -1;
	}
	cn_free(c);
	cb(c, r, arg);
}

static void
cn_timeout(struct zc_loop *l, void *arg)
{
	cn_finish(arg, -ETIMEDOUT);
}

/* The timer of "again": a unix retry, or the failure found in start. */
static void
cn_again(struct zc_loop *l, void *arg)
{
	struct zc_connect *c = arg;

	if (c->err < 0 && !c->is_unix && c->cur == NULL) {
		cn_finish(c, c->err);
		return;
	}
	cn_try(c);
}

static void
cn_ready(struct zc_loop *l, int fd, unsigned revents, void *arg)
{
	struct zc_connect *c = arg;
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr == 0) {
		cn_finish(c, fd);
		return;
	}
	zc_loop_unwatch(l, fd);
	close(fd);
	c->fd = -1;
	c->err = -soerr;
	if (c->is_unix) {
		cn_finish(c, c->err);
		return;
	}
	c->cur = c->cur->ai_next;
	cn_try(c);
}

/* Tries the addresses from c->cur on, without blocking; calls back with
 * the last error when none is left. */
static void
cn_try(struct zc_connect *c)
{
	const struct sockaddr *sa;
	socklen_t salen;
	int fd, family, r;

	for (;;) {
		if (c->is_unix) {
			sa = (const void *)&c->sun;
			salen = sizeof(c->sun);
			family = AF_UNIX;
		} else if (c->cur != NULL) {
			sa = c->cur->ai_addr;
			salen = c->cur->ai_addrlen;
			family = c->cur->ai_family;
		} else
			break;
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd == -1) {
			c->err = -errno;
			if (c->is_unix)
				break;
			c->cur = c->cur->ai_next;
			continue;
		}
		if (c->has_src && !c->is_unix &&
		    (r = zc_bind_source(fd, family, &c->src, c->flags)) < 0) {
			c->err = r;
			close(fd);
			c->cur = c->cur->ai_next;
			continue;
		}
		if (connect(fd, sa, salen) == 0 || errno == EINPROGRESS) {
			if ((r = zc_loop_watch(c->loop, fd, POLLOUT, cn_ready,
			    c)) < 0) {
				close(fd);
				c->err = r;
				break;
			}
			c->fd = fd;
			return;
		}
		c->err = -errno;
		close(fd);
		if (c->is_unix) {
			/* A full backlog: try again a little later. */
			if (c->err == -EAGAIN) {
				timer_arm(c->loop, &c->again, UNIX_RETRY_MS);
				return;
			}
			break;
		}
		c->cur = c->cur->ai_next;
	}
	cn_finish(c, c->err);
}

/* Resolves sp into c; returns 0 or -errno. */
static int
cn_resolve(struct zc_connect *c, const struct zc_spec *sp)
{
	struct addrinfo hints;
	int r;

	switch (sp->kind) {
	case ZC_SPEC_TCP:
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = sp->family;
		if (c->flags & ZC_OPEN_IPV4)
			hints.ai_family = AF_INET;
		if (c->flags & ZC_OPEN_IPV6)
			hints.ai_family = AF_INET6;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_protocol = IPPROTO_TCP;
		hints.ai_flags = AI_NUMERICSERV |
		    (c->flags & ZC_OPEN_NUMERIC ? AI_NUMERICHOST : 0);
		r = getaddrinfo(sp->host[0] != '\0' ? sp->host : NULL,
		    sp->port, &hints, &c->ai);
		if (r != 0)
			return r == EAI_SYSTEM ? -errno : -(ZC_EAI_BASE - r);
		c->cur = c->ai;
		return 0;
	case ZC_SPEC_UNIX:
	case ZC_SPEC_PATH:
		if (strlen(sp->path) >= sizeof(c->sun.sun_path))
			return -ENAMETOOLONG;
		c->sun.sun_family = AF_UNIX;
		memcpy(c->sun.sun_path, sp->path, strlen(sp->path) + 1);
		c->is_unix = 1;
		return 0;
	default:
		return -EINVAL;
	}
}

struct zc_connect *
zc_connect_start(struct zc_loop *loop, const struct zc_spec *sp,
    const struct zc_spec *src, unsigned flags, int timeout_ms,
    void (*cb)(struct zc_connect *, int, void *), void *arg)
{
	struct zc_connect *c;
	int r;

	if (loop == NULL || sp == NULL || cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = loop;
	c->flags = flags;
	c->fd = -1;
	c->cb = cb;
	c->arg = arg;
	timer_init(&c->deadline, cn_timeout, c);
	timer_init(&c->again, cn_again, c);
	if (src != NULL) {
		if (sp->kind != ZC_SPEC_TCP) {
			free(c);
			errno = EINVAL;
			return NULL;
		}
		c->src = *src;
		c->has_src = 1;
	}
	if ((r = cn_resolve(c, sp)) < 0) {
		if (r == -EINVAL || r == -ENAMETOOLONG) {
			free(c);
			errno = -r;
			return NULL;
		}
		/* A name that does not resolve is the callback's answer. */
		c->err = r;
		c->cur = NULL;
		timer_arm(loop, &c->again, 0);
		return c;
	}
	if (timeout_ms >= 0)
		timer_arm(loop, &c->deadline, timeout_ms);
	/* The first try runs from the loop, so that cb never runs from
	 * inside this call. */
	timer_arm(loop, &c->again, 0);
	return c;
}

void
zc_connect_cancel(struct zc_connect *c)
{
	if (c != NULL)
		cn_free(c);
}
