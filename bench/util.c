#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

unsigned char
pattern_at(uint64_t off)
{
	uint32_t j = off % PATTERN_LEN;

	return (uint32_t)(j * 2654435761u + (j >> 12)) >> 24;
}

unsigned char *
pattern_buf(size_t extra)
{
	unsigned char *b;
	size_t i;

	if (posix_memalign((void **)&b, 4096, PATTERN_LEN + extra) != 0)
		errx(1, "out of memory");
	for (i = 0; i < PATTERN_LEN + extra; i++)
		b[i] = pattern_at(i);
	return b;
}

uint64_t
size_arg(const char *opt, const char *text)
{
	uint64_t n;

	if (expand_number(text, &n) == -1)
		errx(1, "%s: invalid size '%s'", opt, text);
	return n;
}

uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

void
pipe_size(int fd, size_t size)
{
	if (fcntl(fd, F_SETPIPE_SZ, (int)size) == -1)
		warn("F_SETPIPE_SZ %zu", size);
}

/* Fills a unix or TCP address from spec; returns its length. */
static socklen_t
net_addr(const char *spec, struct sockaddr_storage *ss, int passive)
{
	struct addrinfo hints, *res;
	struct sockaddr_un *sun;
	char host[256];
	const char *colon;
	socklen_t len;
	int e;

	memset(ss, 0, sizeof(*ss));
	if (strncmp(spec, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)ss;
		sun->sun_family = AF_UNIX;
		if (strlen(spec + 5) >= sizeof(sun->sun_path))
			errx(1, "%s: path too long", spec);
		strcpy(sun->sun_path, spec + 5);
		return sizeof(*sun);
	}
	if ((colon = strrchr(spec, ':')) == NULL ||
	    (size_t)(colon - spec) >= sizeof(host))
		errx(1, "%s: want HOST:PORT or unix:PATH", spec);
	memcpy(host, spec, colon - spec);
	host[colon - spec] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
	    (passive ? AI_PASSIVE : 0);
	if ((e = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		errx(1, "%s: %s", spec, gai_strerror(e));
	len = res->ai_addrlen;
	memcpy(ss, res->ai_addr, len);
	freeaddrinfo(res);
	return len;
}

int
net_connect(const char *spec, int timeout_ms)
{
	struct sockaddr_storage ss;
	struct timespec pause = { 0, 2000000 };
	uint64_t end;
	socklen_t len;
	int fd;

	len = net_addr(spec, &ss, 0);
	end = mono_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			err(1, "socket");
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			return fd;
		if ((errno != ECONNREFUSED && errno != ENOENT) ||
		    mono_ns() > end)
			err(1, "connect %s", spec);
		close(fd);
		nanosleep(&pause, NULL);
	}
}

int
net_listen(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1;

	len = net_addr(spec, &ss, 1);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&ss)->sun_path);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		err(1, "bind %s", spec);
	if (listen(fd, 128) == -1)
		err(1, "listen %s", spec);
	return fd;
}

int
net_port(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == -1)
		err(1, "getsockname");
	if (ss.ss_family != AF_INET)
		return 0;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void
die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

void
publish_file(const char *path, const char *text)
{
	char tmp[4096];
	FILE *fp;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		errx(1, "%s: name too long", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	fputs(text, fp);
	if (fclose(fp) == EOF || rename(tmp, path) == -1)
		err(1, "%s", path);
}
