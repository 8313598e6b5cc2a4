#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_MAX (1024u * 1024)

static size_t max_size_cache;

int
zc_pipe_open(struct zc_pipe *p, unsigned flags)
{
	int fds[2], oflags = O_CLOEXEC;
	ssize_t sz;

	if (flags & ZC_PIPE_NONBLOCK)
		oflags |= O_NONBLOCK;
	if (pipe2(fds, oflags) == -1)
		return -errno;
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->len = 0;
	sz = fcntl(fds[0], F_GETPIPE_SZ);
	p->size = sz > 0 ? (size_t)sz : 65536;
	return 0;
}

void
zc_pipe_close(struct zc_pipe *p)
{
	if (p->rfd >= 0)
		close(p->rfd);
	if (p->wfd >= 0)
		close(p->wfd);
	p->rfd = p->wfd = -1;
	p->len = 0;
}

unsigned long long
zc__proc_number(const char *path)
{
	char buf[32], *end;
	unsigned long long v;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf)
		return 0;
	return v;
}

/* Reads /proc/sys/fs/pipe-max-size; returns 0 when it cannot. */
static size_t
read_max_size(void)
{
	unsigned long long v = zc__proc_number("/proc/sys/fs/pipe-max-size");

	return v > SIZE_MAX / 2 ? 0 : (size_t)v;
}

size_t
zc_pipe_max_size(void)
{
	size_t v;

	v = __atomic_load_n(&max_size_cache, __ATOMIC_RELAXED);
	if (v != 0)
		return v;
	v = read_max_size();
	if (v == 0)
		v = DEFAULT_MAX;
	__atomic_store_n(&max_size_cache, v, __ATOMIC_RELAXED);
	return v;
}

ssize_t
zc_pipe_fd_size(int fd)
{
	int sz;

	sz = fcntl(fd, F_GETPIPE_SZ);
	if (sz >= 0)
		return sz;
	/* The kernel says EBADF for an open descriptor that is no pipe. */
	if (errno == EBADF && fcntl(fd, F_GETFD) != -1)
		return -EINVAL;
	return -errno;
}

ssize_t
zc_pipe_fd_resize(int fd, size_t size)
{
	ssize_t cur;
	size_t max, want;
	int r;

	if ((cur = zc_pipe_fd_size(fd)) < 0)
		return cur;
	max = zc_pipe_max_size();
	if (size == 0 || size > max)
		size = max;
	if (size == (size_t)cur)
		return cur;
	/*
	 * Growing: EPERM (over a limit) makes us try halves down to the
	 * current size. Shrinking: EBUSY (the bytes in the pipe do not fit)
	 * makes us try doubles up to the current size.
	 */
	for (want = size;;) {
		r = fcntl(fd, F_SETPIPE_SZ, (int)want);
		if (r >= 0)
			return r;
		if (errno != EPERM && errno != EBUSY && errno != ENOMEM)
			return -errno;
		if (size > (size_t)cur) {
			want /= 2;
			if (want <= (size_t)cur)
				break;
		} else {
			want *= 2;
			if (want >= (size_t)cur)
				break;
		}
	}
	return zc_pipe_fd_size(fd);
}

ssize_t
zc_pipe_resize(struct zc_pipe *p, size_t size)
{
	ssize_t r;

	r = zc_pipe_fd_resize(p->rfd >= 0 ? p->rfd : p->wfd, size);
	if (r > 0)
		p->size = (size_t)r;
	return r;
}

ssize_t
zc__pipe_grow(int fd, size_t size, bool *refused)
{
	ssize_t cur;
	size_t max, want;

	if ((cur = zc_pipe_fd_size(fd)) < 0)
		return cur;
	max = zc_pipe_max_size();
	if (size == 0 || size > max)
		size = max;
	for (want = size; want > (size_t)cur; want /= 2) {
		if (fcntl(fd, F_SETPIPE_SZ, (int)want) >= 0)
			return zc_pipe_fd_size(fd);
		if (errno == EPERM && refused != NULL)
			*refused = true;
		else if (errno != EPERM && errno != ENOMEM)
			return -errno;
	}
	return cur;
}
