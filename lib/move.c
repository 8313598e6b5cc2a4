#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <time.h>

#include "internal.h"

#define BIG ((size_t)1 << 30)	/* the most asked of one splice(2) */

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static unsigned
splice_flags(unsigned flags)
{
	return SPLICE_F_NONBLOCK | (flags & ZC_MOVE_MORE ? SPLICE_F_MORE : 0);
}

/*
 * A short count from the source means it has nothing more ready (or the
 * pipe ran out of slots), and a second splice(2) from a blocking socket
 * would block with bytes already in p: fill stops there, except into a
 * foreign pipe with ZC_MOVE_WAIT, where someone else empties the pipe.
 */
ssize_t
zc_pipe_fill(struct zc_pipe *p, int fd, size_t max, unsigned flags)
{
	bool own = p->rfd >= 0, wait = flags & ZC_MOVE_WAIT;
	size_t done = 0, want;
	ssize_t n;
	int r;

	while (done < max) {
		want = min_size(max - done, BIG);
		if (own && p->size > 0) {
			if (p->len >= p->size)
				break;
			want = min_size(want, p->size - p->len);
		}
		n = splice(fd, NULL, p->wfd, NULL, want, splice_flags(flags));
		if (n > 0) {
			done += (size_t)n;
			if (own)
				p->len += (size_t)n;
			if ((size_t)n < want && (own || !wait))
				break;
			continue;
		}
		if (n == 0)
			return (ssize_t)done;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return done > 0 ? (ssize_t)done : -errno;
		if (!wait || (own && p->len > 0))
			break;
		if ((r = zc_wait(fd, p->wfd, -1)) < 0)
			return done > 0 ? (ssize_t)done : r;
	}
	return done > 0 || max == 0 ? (ssize_t)done : -EAGAIN;
}

ssize_t
zc_pipe_drain(struct zc_pipe *p, int fd, size_t max, unsigned flags)
{
	bool own = p->wfd >= 0;
	size_t done = 0, want;
	ssize_t n;
	int r;

	while (done < max) {
		want = min_size(max - done, BIG);
		if (own) {
			if (p->len == 0)
				return (ssize_t)done;
			want = min_size(want, p->len);
		}
		n = splice(p->rfd, NULL, fd, NULL, want, splice_flags(flags));
		if (n > 0) {
			done += (size_t)n;
			if (own)
				p->len -= min_size((size_t)n, p->len);
			continue;
		}
		if (n == 0)
			return (ssize_t)done;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return done > 0 ? (ssize_t)done : -errno;
		if (!(flags & ZC_MOVE_WAIT))
			break;
		if ((r = zc_wait(p->rfd, fd, -1)) < 0)
			return done > 0 ? (ssize_t)done : r;
	}
	return done > 0 || max == 0 ? (ssize_t)done : -EAGAIN;
}

/*
 * One successful tee(2) only: tee copies from the head of src, so a
 * second call would duplicate the bytes the first one copied.
 */
ssize_t
zc_pipe_tee(struct zc_pipe *dst, const struct zc_pipe *src, size_t max,
    unsigned flags)
{
	bool sown = src->wfd >= 0, down = dst->rfd >= 0;
	size_t want = min_size(max, BIG);
	ssize_t n;
	int r;

	if (sown)
		want = min_size(want, src->len);
	if (want == 0)
		return 0;
	if (down && dst->size > 0) {
		if (dst->len >= dst->size)
			return -EAGAIN;
		want = min_size(want, dst->size - dst->len);
	}
	for (;;) {
		n = tee(src->rfd, dst->wfd, want, splice_flags(flags));
		if (n >= 0) {
			if (down)
				dst->len += (size_t)n;
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (!(flags & ZC_MOVE_WAIT) || (down && dst->len > 0))
			return -EAGAIN;
		if ((r = zc_wait(src->rfd, dst->wfd, -1)) < 0)
			return r;
	}
}

int
zc_wait(int rfd, int wfd, int timeout_ms)
{
	struct pollfd pfd[2];
	int64_t deadline = 0, left;
	int i, n, nfds = 0, tmo = timeout_ms;

	if (rfd >= 0)
		pfd[nfds++] = (struct pollfd){ .fd = rfd, .events = POLLIN };
	if (wfd >= 0)
		pfd[nfds++] = (struct pollfd){ .fd = wfd, .events = POLLOUT };
	if (timeout_ms > 0)
		deadline = zc__now_ms() + timeout_ms;
	while (nfds > 0) {
		n = poll(pfd, (nfds_t)nfds, tmo);
		if (n == -1) {
			if (errno != EINTR)
				return -errno;
		} else if (n == 0) {
			return -ETIMEDOUT;
		}
		for (i = 0; n > 0 && i < nfds; i++) {
			if (pfd[i].revents & POLLNVAL)
				return -EBADF;
			if (pfd[i].revents == 0)
				continue;
			pfd[i--] = pfd[--nfds];
		}
		if (nfds > 0 && timeout_ms > 0) {
			left = deadline - zc__now_ms();
			tmo = left > 0 ? (int)left : 0;
		}
	}
	return 0;
}
