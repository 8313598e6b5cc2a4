/*
 * pool.c: what a loop lends its flows and takes back: owned pipes (the
 * hub pipe H and the round pipes Q), kept in a pool of spare pipes for
 * reuse, read/write and bounce buffers (big ones while the loop's budget
 * lasts), and the loop's /dev/null for discarding. loop_trim gives all
 * of it back once no flow is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "flow-internal.h"

#define POOL_BYTES	(16u << 20)	/* spare pipes' capacity at most */
#define BUF_SMALL	(64 * 1024)	/* read/write buffers: the usual size */
#define BUF_BIG		(1024 * 1024)	/* while the loop's budget lasts */
#define BUF_BUDGET	(32u << 20)	/* for all of a loop's big buffers */

/* ------------------------------------------------------------------ */
/* Owned pipes                                                        */
/* ------------------------------------------------------------------ */

/* Sets the capacity of the (empty) pipe fd to size, or to the largest
 * smaller one the kernel accepts; returns the capacity in force. */
size_t
pipe_setsize(int fd, size_t size)
{
	ssize_t r;

	if ((r = zc_pipe_fd_resize(fd, size)) > 0)
		return r;
	return 4096;
}

/* Gives p an empty non-blocking pipe of about size bytes, from the pool
 * when one is there; returns 0 or -errno. */
int
pipe_get(struct zc_loop *l, struct zc_pipe *p, size_t size)
{
	int fds[2];

	if (l->npool > 0) {
		*p = l->pool[--l->npool];
		l->poolbytes -= p->size;
		if (p->size != size)
			p->size = pipe_setsize(p->wfd, size);
		return 0;
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
		return -errno;
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->len = 0;
	p->size = pipe_setsize(p->wfd, size);
	return 0;
}

/* Returns p to the pool when it is empty and there is room, else closes
 * it; p is left closed either way. */
void
pipe_put(struct zc_loop *l, struct zc_pipe *p)
{
	if (p->rfd < 0)
		return;
	if (p->len == 0 && l->npool < POOL_MAX &&
	    l->poolbytes + p->size <= POOL_BYTES) {
		l->pool[l->npool++] = *p;
		l->poolbytes += p->size;
	} else {
		close(p->rfd);
		close(p->wfd);
	}
	p->rfd = p->wfd = -1;
	p->len = 0;
}

/* Closes the spare pipes and /dev/null: once no flow is left, the loop
 * holds no descriptor but its own two and the watched ones. */
void
loop_trim(struct zc_loop *l)
{
	int i;

	for (i = 0; i < l->npool; i++) {
		close(l->pool[i].rfd);
		close(l->pool[i].wfd);
	}
	l->npool = 0;
	l->poolbytes = 0;
	if (l->devnull >= 0)
		close(l->devnull);
	l->devnull = -2;
}

/* The loop's /dev/null for discarding, or -1. */
int
loop_devnull(struct zc_loop *l)
{
	if (l->devnull == -2)
		l->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return l->devnull;
}

/* ------------------------------------------------------------------ */
/* Read/write buffers                                                 */
/* ------------------------------------------------------------------ */

/* A read/write buffer: BUF_BIG while the loop's budget lasts (large
 * moves cost fewer system calls), else BUF_SMALL. 0 or -ENOMEM. */
int
buf_get(struct zc_loop *l, char **buf, size_t *size)
{
	size_t want = BUF_SMALL;

	if (*buf != NULL)
		return 0;
	if (l->bigbytes + BUF_BIG <= BUF_BUDGET)
		want = BUF_BIG;
	if ((*buf = malloc(want)) == NULL)
		return -ENOMEM;
	*size = want;
	if (want == BUF_BIG)
		l->bigbytes += BUF_BIG;
	return 0;
}

void
buf_put(struct zc_loop *l, char **buf, size_t *size)
{
	if (*buf == NULL)
		return;
	if (*size == BUF_BIG)
		l->bigbytes -= BUF_BIG;
	free(*buf);
	*buf = NULL;
	*size = 0;
}
