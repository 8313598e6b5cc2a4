/*
 * Endpoints: open what a struct zc_spec names, and the listen/accept
 * helpers under it, with the unix socket files that listeners make
 * (replaced only when stale, removed only while still theirs).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "internal.h"

#define OPEN_RW (ZC_OPEN_READ | ZC_OPEN_WRITE)
#define ACCEPT_TRIES 16		/* gone connections in a row before pausing */
#define ACCEPT_PAUSE_MS 10

static const char *const kind_names[] = {
	[ZC_KIND_FILE] = "file",
	[ZC_KIND_PIPE] = "pipe",
	[ZC_KIND_SOCKET] = "socket",
	[ZC_KIND_TTY] = "tty",
	[ZC_KIND_CHAR] = "char",
	[ZC_KIND_OTHER] = "other",
};

const char *
zc_kind_name(enum zc_kind k)
{
	if ((unsigned)k >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[k];
}

enum zc_kind
zc__kind(int fd, const struct stat *sb)
{
	if (S_ISREG(sb->st_mode))
		return ZC_KIND_FILE;
	if (S_ISFIFO(sb->st_mode))
		return ZC_KIND_PIPE;
	if (S_ISSOCK(sb->st_mode))
		return ZC_KIND_SOCKET;
	if (S_ISCHR(sb->st_mode))
		return isatty(fd) ? ZC_KIND_TTY : ZC_KIND_CHAR;
	return ZC_KIND_OTHER;
}

int
zc_fd_kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -errno;
	return zc__kind(fd, &st);
}

/* Returns the milliseconds left until deadline (-1: none), at least 0. */
static int
left_ms(int64_t deadline)
{
	int64_t t;

	if (deadline < 0)
		return -1;
	t = deadline - zc__now_ms();
	return t < 0 ? 0 : t > 0x7fffffff ? 0x7fffffff : (int)t;
}

static int64_t
deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : zc__now_ms() + timeout_ms;
}

/* Polls fd for events until deadline; returns 0, -ETIMEDOUT or -errno. */
static int
poll_until(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&pfd, 1, left_ms(deadline));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int
set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (fcntl(fd, F_SETFL, fl) == -1)
		return -errno;
	return 0;
}

/* Connects a new socket to sa, from src when not NULL, waiting at most
 * timeout_ms; returns the fd (blocking unless ZC_OPEN_NONBLOCK) or
 * -errno. */
static int
connect_to(int family, const struct sockaddr *sa, socklen_t salen,
    const struct zc_spec *src, unsigned flags, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	socklen_t len;
	int fd, r, soerr;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	if (src != NULL && (r = zc_bind_source(fd, family, src, flags)) != 0)
		goto fail;
	for (;;) {
		if (connect(fd, sa, salen) == 0)
			break;
		r = -errno;
		if (r == -EINPROGRESS) {
			if ((r = poll_until(fd, POLLOUT, deadline)) != 0)
				goto fail;
			len = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &len) == -1) {
				r = -errno;
				goto fail;
			}
			if (soerr != 0) {
				r = -soerr;
				goto fail;
			}
			break;
		}
		/* A unix listener with a full backlog: try again later. */
		if (r == -EAGAIN && family == AF_UNIX) {
			if (left_ms(deadline) == 0) {
				r = -ETIMEDOUT;
				goto fail;
			}
			usleep(10000);
			continue;
		}
		if (r != -EINTR)
			goto fail;
	}
	if (!(flags & ZC_OPEN_NONBLOCK) && (r = set_nonblock(fd, 0)) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return r;
}

/* Fills sun from path; returns its length or -ENAMETOOLONG. */
static int
unix_addr(struct sockaddr_un *sun, const char *path)
{
	size_t len = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, len);
	return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

static int
unix_connect(const char *path, unsigned flags, int timeout_ms)
{
	struct sockaddr_un sun;
	int len;

	if ((len = unix_addr(&sun, path)) < 0)
		return len;
	return connect_to(AF_UNIX, (struct sockaddr *)&sun, len, NULL, flags,
	    timeout_ms);
}

/* The resolver's error as a library error value. */
static int
eai_error(int eai)
{
	if (eai == EAI_SYSTEM)
		return errno != 0 ? -errno : -EIO;
	return -(ZC_EAI_BASE - eai);
}

/* The address family that sp and flags ask for, or -EAFNOSUPPORT when
 * they disagree (-EINVAL when the flags do). */
static int
tcp_family(const struct zc_spec *sp, unsigned flags)
{
	int fam = sp->family;

	if ((flags & ZC_OPEN_IPV4) && (flags & ZC_OPEN_IPV6))
		return -EINVAL;
	if (flags & ZC_OPEN_IPV4) {
		if (fam == AF_INET6)
			return -EAFNOSUPPORT;
		fam = AF_INET;
	} else if (flags & ZC_OPEN_IPV6) {
		if (fam == AF_INET)
			return -EAFNOSUPPORT;
		fam = AF_INET6;
	}
	return fam;
}

static int
tcp_connect(const struct zc_spec *sp, const struct zc_spec *src,
    unsigned flags, int timeout_ms)
{
	struct addrinfo hints, *res, *ai;
	int fam, fd, eai;

	if ((fam = tcp_family(sp, flags)) < 0)
		return fam;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = fam;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV |
	    ((flags & ZC_OPEN_NUMERIC) ? AI_NUMERICHOST : 0);
	errno = 0;
	if ((eai = getaddrinfo(sp->host, sp->port, &hints, &res)) != 0)
		return eai_error(eai);
	fd = -EHOSTUNREACH;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = connect_to(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
		    src, flags, timeout_ms);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

int
zc_bind_source(int fd, int family, const struct zc_spec *src,
    unsigned flags)
{
	struct addrinfo hints, *res, *ai;
	int eai, r, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE |
	    ((flags & ZC_OPEN_NUMERIC) ? AI_NUMERICHOST : 0);
	errno = 0;
	eai = getaddrinfo(src->host[0] != '\0' ? src->host : NULL,
	    src->port[0] != '\0' ? src->port : "0", &hints, &res);
	if (eai == EAI_ADDRFAMILY || eai == EAI_NODATA)
		return -EADDRNOTAVAIL;
	if (eai != 0)
		return eai_error(eai);
	if (strcmp(src->port, "0") != 0 && src->port[0] != '\0' &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
		r = -errno;
		freeaddrinfo(res);
		return r;
	}
	r = -EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != family)
			continue;
		r = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : -errno;
		if (r == 0)
			break;
	}
	freeaddrinfo(res);
	return r;
}

/* Binds and listens on a new socket of ai's family; returns it or
 * -errno. v6only < 0 leaves IPV6_V6ONLY alone. */
static int
tcp_bind(int family, const struct sockaddr *sa, socklen_t salen,
    int v6only, unsigned flags, int backlog)
{
	int fd, r, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC |
	    ((flags & ZC_OPEN_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (family == AF_INET6 && v6only >= 0 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
		goto fail;
	if (bind(fd, sa, salen) == -1 || listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

static int
tcp_listen(const struct zc_spec *sp, unsigned flags, int backlog)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	int fam, fd, eai;
	long port = 0;
	const char *p;

	if ((fam = tcp_family(sp, flags)) < 0)
		return fam;
	if (sp->host[0] == '\0') {
		for (p = sp->port; *p >= '0' && *p <= '9'; p++)
			port = port * 10 + (*p - '0');
		if (*p != '\0' || p == sp->port || port > 65535)
			return -EINVAL;
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = in6addr_any;
		sin6.sin6_port = htons(port);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
		sin.sin_port = htons(port);
		if (fam == AF_INET)
			return tcp_bind(AF_INET, (struct sockaddr *)&sin,
			    sizeof(sin), -1, flags, backlog);
		fd = tcp_bind(AF_INET6, (struct sockaddr *)&sin6,
		    sizeof(sin6), fam == AF_INET6, flags, backlog);
		if (fam == AF_UNSPEC && (fd == -EAFNOSUPPORT ||
		    fd == -EADDRNOTAVAIL))
			fd = tcp_bind(AF_INET, (struct sockaddr *)&sin,
			    sizeof(sin), -1, flags, backlog);
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = fam;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE |
	    ((flags & ZC_OPEN_NUMERIC) ? AI_NUMERICHOST : 0);
	errno = 0;
	if ((eai = getaddrinfo(sp->host, sp->port, &hints, &res)) != 0)
		return eai_error(eai);
	fd = -EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = tcp_bind(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
		    (flags & ZC_OPEN_IPV6) ? 1 : -1, flags, backlog);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

/*
 * Returns whether a socket holds the unix socket file at path: 1 yes, 0
 * no (a stale file left by a program that ended), or -errno when it
 * cannot tell. A stream connect(2) would be a connection that a listener
 * takes for its client; a datagram socket's connect(2) to a stream or
 * seqpacket socket fails with EPROTOTYPE instead, and one to a datagram
 * socket only sets the peer, so nothing reaches the holder. The kernel
 * answers ECONNREFUSED only when no socket, in any network namespace,
 * is bound to that file: /proc/net/unix shows only this namespace's.
 */
static int
unix_alive(const char *path)
{
	struct sockaddr_un sun;
	int fd, len, r;

	if ((len = unix_addr(&sun, path)) < 0)
		return len;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	while ((r = connect(fd, (struct sockaddr *)&sun, len)) == -1 &&
	    errno == EINTR)
		;
	r = r == 0 ? 0 : -errno;
	close(fd);
	if (r == 0 || r == -EPROTOTYPE)
		return 1;
	if (r == -ECONNREFUSED)
		return 0;
	return r;
}

/* Removes the stale socket file at path if it is still the file that
 * lstat(2) found as st; returns 0 or -errno. */
static int
unix_remove_stale(const char *path, const struct stat *st)
{
	struct stat now;

	if (lstat(path, &now) == -1)
		return errno == ENOENT ? 0 : -errno;
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		return -EADDRINUSE;
	if (unlink(path) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

static int
unix_listen(const struct zc_spec *sp, unsigned flags, int backlog,
    struct zc_sockfile *sf)
{
	struct zc_sockfile own;
	struct sockaddr_un sun;
	struct stat st;
	int fd, len, r, tries;

	if ((len = unix_addr(&sun, sp->path)) < 0)
		return len;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    ((flags & ZC_OPEN_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		return -errno;
	for (tries = 0; ; tries++) {
		if (bind(fd, (struct sockaddr *)&sun, len) == 0)
			break;
		r = -errno;
		if (r != -EADDRINUSE || tries > 0)
			goto fail;
		if (lstat(sp->path, &st) == -1) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			goto fail;
		}
		/* A file, directory or symbolic link: never followed nor
		 * removed. */
		if (!S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto fail;
		}
		if ((r = unix_alive(sp->path)) != 0) {
			if (r == -ENOENT)
				continue;
			if (r > 0)
				r = -EADDRINUSE;
			goto fail;
		}
		if ((r = unix_remove_stale(sp->path, &st)) != 0)
			goto fail;
	}
	own.path[0] = '\0';
	if (lstat(sp->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		memcpy(own.path, sp->path, strlen(sp->path) + 1);
		own.dev = st.st_dev;
		own.ino = st.st_ino;
	}
	if (listen(fd, backlog) == -1) {
		r = -errno;
		zc_sockfile_unlink(&own);
		goto fail;
	}
	if (sf != NULL)
		*sf = own;
	return fd;
fail:
	close(fd);
	return r;
}

int
zc_sockfile_unlink(struct zc_sockfile *sf)
{
	struct stat st;
	int r = 0;

	if (sf->path[0] == '\0')
		return 0;
	if (lstat(sf->path, &st) == -1)
		r = -errno;
	else if (!S_ISSOCK(st.st_mode) || st.st_dev != sf->dev ||
	    st.st_ino != sf->ino)
		r = -ESTALE;
	else if (unlink(sf->path) == -1)
		r = -errno;
	sf->path[0] = '\0';
	return r;
}

int
zc_listen_sockfile(const struct zc_spec *sp, unsigned flags, int backlog,
    struct zc_sockfile *sf)
{
	if (sf != NULL)
		sf->path[0] = '\0';
	if (backlog <= 0)
		backlog = SOMAXCONN;
	switch (sp->kind) {
	case ZC_SPEC_TCP_LISTEN:
		return tcp_listen(sp, flags, backlog);
	case ZC_SPEC_UNIX_LISTEN:
		return unix_listen(sp, flags, backlog, sf);
	default:
		return -EINVAL;
	}
}

/* Whether accept(2) failed for a connection that is already gone (or
 * that a firewall refused): the listener itself is fine, the next
 * connection may be taken. */
static int
accept_transient(int e)
{
	switch (e) {
	case ECONNABORTED:
	case EPROTO:
	case EPERM:
	case ENETDOWN:
	case ENETUNREACH:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
#ifdef ENONET
	case ENONET:
#endif
		return 1;
	default:
		return 0;
	}
}

int
zc_listen(const struct zc_spec *sp, unsigned flags, int backlog)
{
	return zc_listen_sockfile(sp, flags, backlog, NULL);
}

int
zc_accept(int lfd, unsigned flags, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	int fd, r, gone = 0;
	int aflags = SOCK_CLOEXEC |
	    ((flags & ZC_OPEN_NONBLOCK) ? SOCK_NONBLOCK : 0);

	for (;;) {
		if ((r = poll_until(lfd, POLLIN, deadline)) != 0)
			return r;
		fd = accept4(lfd, NULL, NULL, aflags);
		if (fd >= 0)
			return fd;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		if (!accept_transient(errno))
			return -errno;
		/* A listener on which every accept fails so (a security
		 * module refusing them) must not spin: after a few in a row,
		 * try again every ACCEPT_PAUSE_MS, or give the caller
		 * -EAGAIN when it does not wait. */
		if (++gone < ACCEPT_TRIES)
			continue;
		if (timeout_ms == 0)
			return -EAGAIN;
		if (deadline >= 0 && left_ms(deadline) < ACCEPT_PAUSE_MS)
			return -ETIMEDOUT;
		usleep(ACCEPT_PAUSE_MS * 1000);
	}
}

/* Checks that fd is open with the access that flags need; 0 or -errno. */
static int
check_fd(int fd, unsigned flags)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -errno;
	if ((flags & ZC_OPEN_READ) && (fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if ((flags & ZC_OPEN_WRITE) && (fl & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	return 0;
}

/* Opens a file, FIFO or device, or connects to a unix socket at path;
 * returns the fd or -errno. */
static int
open_path(const char *path, unsigned flags, int timeout_ms)
{
	struct stat st;
	int oflags = O_CLOEXEC | O_NOCTTY, fd;

	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		return unix_connect(path, flags, timeout_ms);
	switch (flags & OPEN_RW) {
	case ZC_OPEN_READ:
		oflags |= O_RDONLY;
		break;
	case ZC_OPEN_WRITE:
		oflags |= O_WRONLY | ((flags & ZC_OPEN_APPEND) ?
		    O_APPEND : O_TRUNC);
		break;
	case OPEN_RW:
		oflags |= O_RDWR | ((flags & ZC_OPEN_APPEND) ? O_APPEND : 0);
		break;
	default:
		return -EINVAL;
	}
	if ((flags & ZC_OPEN_WRITE) && !(flags & ZC_OPEN_NOCREAT))
		oflags |= O_CREAT;
	while ((fd = open(path, oflags, 0666)) == -1)
		if (errno != EINTR)
			return -errno;
	return fd;
}

/* Listens on sp, accepts one connection and closes the listener (and
 * removes the unix socket file it made, if still there); returns the fd
 * or -errno. */
static int
listen_accept(const struct zc_spec *sp, unsigned flags, int timeout_ms)
{
	struct zc_sockfile sf;
	int lfd, fd;

	lfd = zc_listen_sockfile(sp, flags | ZC_OPEN_NONBLOCK, 1, &sf);
	if (lfd < 0)
		return lfd;
	fd = zc_accept(lfd, flags, timeout_ms);
	zc_sockfile_unlink(&sf);
	close(lfd);
	return fd;
}

int
zc_endpoint_open(struct zc_endpoint *ep, const struct zc_spec *sp,
    unsigned flags, int timeout_ms)
{
	return zc_endpoint_open_from(ep, sp, NULL, flags, timeout_ms);
}

int
zc_endpoint_open_from(struct zc_endpoint *ep, const struct zc_spec *sp,
    const struct zc_spec *src, unsigned flags, int timeout_ms)
{
	struct stat st;
	int fd, kind, r;

	ep->fd = -1;
	ep->kind = ZC_KIND_OTHER;
	ep->owned = 0;
	if ((flags & ZC_OPEN_IPV4) && (flags & ZC_OPEN_IPV6))
		return -EINVAL;
	if (src != NULL && sp->kind != ZC_SPEC_TCP)
		return -EINVAL;

	switch (sp->kind) {
	case ZC_SPEC_STDIO:
		if ((flags & OPEN_RW) == ZC_OPEN_READ)
			fd = STDIN_FILENO;
		else if ((flags & OPEN_RW) == ZC_OPEN_WRITE)
			fd = STDOUT_FILENO;
		else
			return -EINVAL;
		if ((r = check_fd(fd, flags)) != 0)
			return r;
		break;
	case ZC_SPEC_FD:
		if (sp->fd < 0)
			return -EBADF;
		if ((r = check_fd(sp->fd, flags)) != 0)
			return r;
		fd = sp->fd;
		break;
	case ZC_SPEC_PATH:
	case ZC_SPEC_FILE:
		fd = open_path(sp->path, flags, timeout_ms);
		break;
	case ZC_SPEC_TCP:
		if (sp->path[0] != '\0' && stat(sp->path, &st) == 0 &&
		    src == NULL)
			fd = open_path(sp->path, flags, timeout_ms);
		else
			fd = tcp_connect(sp, src, flags, timeout_ms);
		break;
	case ZC_SPEC_UNIX:
		fd = unix_connect(sp->path, flags, timeout_ms);
		break;
	case ZC_SPEC_TCP_LISTEN:
	case ZC_SPEC_UNIX_LISTEN:
		fd = listen_accept(sp, flags, timeout_ms);
		break;
	default:
		return -EINVAL;
	}
	if (fd < 0)
		return fd;
	if ((kind = zc_fd_kind(fd)) < 0) {
		if (sp->kind != ZC_SPEC_STDIO && sp->kind != ZC_SPEC_FD)
			close(fd);
		return kind;
	}
	ep->fd = fd;
	ep->kind = kind;
	ep->owned = sp->kind != ZC_SPEC_STDIO && sp->kind != ZC_SPEC_FD;
	return 0;
}

void
zc_endpoint_close(struct zc_endpoint *ep)
{
	if (ep->owned && ep->fd >= 0)
		close(ep->fd);
	ep->fd = -1;
	ep->owned = 0;
}
