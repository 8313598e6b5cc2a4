/*
 * rest.c: the rest of a flow (ZC_FLOW_KEEP_REST). When such a flow stops
 * before the end, the bytes it took from its source and did not deliver
 * (a bounce buffer, the hub pipe, the read/write buffer) are kept by the
 * loop, under the source's descriptor, device and inode; the next flow
 * on that source starts in M_REST and writes them to its sinks before
 * it reads the source.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow-internal.h"

/* The loop's rest for fd, or NULL. */
static struct rest *
rest_find(struct zc_loop *l, int fd)
{
	struct rest *r;

	LIST_FOREACH(r, &l->rests, link)
		if (r->fd == fd)
			return r;
	return NULL;
}

static void
rest_free(struct rest *r)
{
	LIST_REMOVE(r, link);
	free(r->buf);
	free(r);
}

void
rest_free_all(struct zc_loop *l)
{
	while (!LIST_EMPTY(&l->rests))
		rest_free(LIST_FIRST(&l->rests));
}

/* Appends len bytes at p to the buffer of n bytes at *buf; 0 or -ENOMEM. */
static int
grow(char **buf, size_t *n, const char *p, size_t len)
{
	char *nb;

	if (len == 0)
		return 0;
	if ((nb = realloc(*buf, *n + len)) == NULL)
		return -ENOMEM;
	memcpy(nb + *n, p, len);
	*buf = nb;
	*n += len;
	return 0;
}

/* Appends what is in the owned pipe h, emptying it; 0 or -errno. */
static int
grow_pipe(char **buf, size_t *n, struct zc_pipe *h)
{
	char *nb;
	ssize_t got;

	if (h->rfd < 0 || h->len == 0)
		return 0;
	if ((nb = realloc(*buf, *n + h->len)) == NULL)
		return -ENOMEM;
	*buf = nb;
	while (h->len > 0) {
		got = read(h->rfd, nb + *n, h->len);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return got == 0 ? -EIO : -errno;
		*n += got;
		h->len -= got;
	}
	return 0;
}

/*
 * Takes what f read from its source and did not deliver out of its
 * buffers and pipes, oldest first, and keeps it in the loop ahead of
 * any rest already kept for the same source. What cannot be kept (out
 * of memory, the source gone) is dropped. Leaves f's buffers empty, so
 * a second call keeps nothing more.
 */
void
rest_keep(struct zc_flow *f)
{
	struct zc_loop *l = f->loop;
	struct sink none, *s = &none;
	struct rest *r;
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int err = 0;

	if (!(f->o.flags & ZC_FLOW_KEEP_REST))
		return;
	/* A flow that never had its sink has delivered nothing. */
	memset(&none, 0, sizeof(none));
	if (f->nsinks > 0)
		s = f->sinks[0];
	if (f->rest != NULL)
		err |= grow(&buf, &n, f->rest + s->roff, f->rlen - s->roff);
	if (f->buf != NULL && s->off < f->blen)
		err |= grow(&buf, &n, f->buf + s->off, f->blen - s->off);
	if (s->e.buf != NULL)
		err |= grow(&buf, &n, s->e.buf + s->e.boff,
		    s->e.blen - s->e.boff);
	err |= grow_pipe(&buf, &n, &f->h);
	if (f->src.buf != NULL)
		err |= grow(&buf, &n, f->src.buf + f->src.boff,
		    f->src.blen - f->src.boff);
	free(f->rest);
	f->rest = NULL;
	f->rlen = 0;
	f->blen = 0;
	s->roff = s->off = 0;
	s->e.boff = s->e.blen = 0;
	f->src.boff = f->src.blen = 0;
	if (n == 0 || err != 0 || fstat(f->src.fd, &st) == -1) {
		free(buf);
		return;
	}
	if ((r = rest_find(l, f->src.fd)) != NULL &&
	    (r->dev != st.st_dev || r->ino != st.st_ino)) {
		rest_free(r);
		r = NULL;
	}
	if (r != NULL) {
		/* Ours came first: the kept bytes follow them. */
		if (grow(&buf, &n, r->buf + r->off, r->len - r->off) != 0) {
			free(buf);
			return;
		}
		free(r->buf);
	} else {
		if ((r = calloc(1, sizeof(*r))) == NULL) {
			free(buf);
			return;
		}
		r->fd = f->src.fd;
		r->dev = st.st_dev;
		r->ino = st.st_ino;
		r->eof = f->eof;
		LIST_INSERT_HEAD(&l->rests, r, link);
	}
	r->buf = buf;
	r->len = n;
	r->off = 0;
}

/* Gives the new flow f the rest kept for its source, up to its limit;
 * returns 0, or -ENOMEM (the rest stays kept). */
int
rest_take(struct zc_flow *f)
{
	struct rest *r;
	struct stat st;
	size_t n;

	if ((r = rest_find(f->loop, f->src.fd)) == NULL)
		return 0;
	if (fstat(f->src.fd, &st) == -1 || st.st_dev != r->dev ||
	    st.st_ino != r->ino) {
		rest_free(r);
		return 0;
	}
	n = r->len - r->off;
	if (n > f->limit)
		n = f->limit;
	if (r->off == 0 && n == r->len) {
		f->rest = r->buf;
		r->buf = NULL;
	} else {
		if ((f->rest = malloc(n)) == NULL)
			return -ENOMEM;
		memcpy(f->rest, r->buf + r->off, n);
	}
	f->rlen = n;
	f->taken = n;
	r->off += n;
	if (r->off == r->len) {
		f->eof = r->eof;
		rest_free(r);
	}
	return 0;
}

/* Once the mode is chosen: a flow with a rest delivers it first. */
void
rest_begin(struct zc_flow *f)
{
	if (f->rest == NULL || f->mode == M_SETUP)
		return;
	f->after = f->mode;
	f->mode = M_REST;
}

/* M_REST: writes the rest to every live sink, then goes on in the mode
 * chosen for the flow. Returns 1 when anything happened, 0 when
 * blocked, -1 when the flow ended. */
int
step_rest(struct zc_flow *f)
{
	int i, prog, pending;

	if ((prog = sinks_write(f, f->rest, f->rlen, W_REST, &pending)) < 0)
		return -1;
	if (pending)
		return prog;
	free(f->rest);
	f->rest = NULL;
	f->rlen = 0;
	for (i = 0; i < f->nsinks; i++)
		f->sinks[i]->roff = 0;
	f->mode = f->after;
	return 1;
}
