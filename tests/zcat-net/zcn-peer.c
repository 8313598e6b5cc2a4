/*
 * zcn-peer: test peers for zcat-net.
 *
 *   zcn-peer echo PORTFILE [after-eof]  echo server on 127.0.0.1:0; with
 *                                       after-eof, answer only once the
 *                                       request has ended (half-close)
 *   zcn-peer reset PORTFILE             accept one client, send 64 KiB,
 *                                       then close with SO_LINGER 0 (RST)
 *   zcn-peer fullq PORTFILE [PATH]      a TCP (or unix) listener whose
 *                                       backlog is full; never accepts
 *   zcn-peer load HOST PORT N SIZE      N clients at once, each sends SIZE
 *                                       seeded bytes, half-closes and
 *                                       checks the SIZE bytes echoed back
 *   zcn-peer seq HOST PORT N            N short echo exchanges in a row
 *
 * Servers write their port to PORTFILE once listening and run until
 * killed. Exit 0 pass, 1 fail.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536

static int after_eof;

static uint64_t
word(uint64_t seed, uint64_t w)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + w;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Fills buf with the stream of seed from offset off on (one 64-bit word
 * per 8 bytes, so any slice can be made again). */
static void
gen(uint64_t seed, uint64_t off, unsigned char *buf, size_t len)
{
	uint64_t x;

	while (len > 0 && off % 8 != 0) {
		*buf++ = word(seed, off / 8) >> (8 * (off % 8));
		off++;
		len--;
	}
	while (len >= 8) {
		x = word(seed, off / 8);
		memcpy(buf, &x, 8);
		buf += 8;
		off += 8;
		len -= 8;
	}
	while (len > 0) {
		*buf++ = word(seed, off / 8) >> (8 * (off % 8));
		off++;
		len--;
	}
}

/* Writes port into portfile in one step, so readers never see half. */
static void
put_port(const char *portfile, unsigned port)
{
	char tmp[4096];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if ((fp = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	fprintf(fp, "%u\n", port);
	fclose(fp);
	if (rename(tmp, portfile) == -1)
		err(1, "%s", portfile);
}

static int
listen_tcp(const char *portfile, int backlog)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (void *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, backlog) == -1 ||
	    getsockname(fd, (void *)&sin, &len) == -1)
		err(1, "listen");
	put_port(portfile, ntohs(sin.sin_port));
	return fd;
}

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

static void *
echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (cap - len < CHUNK) {
			if ((nb = realloc(buf, cap + 4 * CHUNK)) == NULL)
				goto out;
			buf = nb;
			cap += 4 * CHUNK;
		}
		n = read(fd, buf + len, CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (after_eof)
			len += n;
		else if (write_all(fd, buf, n) == -1)
			goto out;
	}
	if (after_eof)
		write_all(fd, buf, len);
	shutdown(fd, SHUT_WR);
out:
	free(buf);
	close(fd);
	return NULL;
}

static int
serve_echo(const char *portfile)
{
	pthread_attr_t attr;
	pthread_t t;
	int lfd = listen_tcp(portfile, 512), fd;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err(1, "accept");
		}
		if (pthread_create(&t, &attr, echo_conn,
		    (void *)(intptr_t)fd) != 0)
			errx(1, "pthread_create");
	}
}

static int
serve_reset(const char *portfile)
{
	struct linger lg = { 1, 0 };
	unsigned char buf[CHUNK];
	int lfd = listen_tcp(portfile, 8), fd;

	if ((fd = accept(lfd, NULL, NULL)) == -1)
		err(1, "accept");
	gen(1, 0, buf, sizeof(buf));
	write_all(fd, buf, sizeof(buf));
	usleep(200000);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	pause();
	return 0;
}

/* A listener that never accepts, its backlog filled by its own
 * connections: further connects wait. */
static int
serve_fullq(const char *portfile, const char *path)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int lfd, i, c;

	if (path == NULL) {
		lfd = listen_tcp(portfile, 0);
		getsockname(lfd, (void *)&ss, &len);
		for (i = 0; i < 4; i++) {
			c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			connect(c, (void *)&ss, len);
		}
	} else {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		unlink(path);
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(lfd, (void *)&sun, sizeof(sun)) == -1 ||
		    listen(lfd, 0) == -1)
			err(1, "%s", path);
		for (i = 0; i < 4; i++) {
			c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
			connect(c, (void *)&sun, sizeof(sun));
		}
		put_port(portfile, 0);
	}
	pause();
	return 0;
}

static struct addrinfo *target;
static uint64_t size;

static int
dial(void)
{
	struct addrinfo *ai;
	int fd;

	for (ai = target; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

struct client {
	pthread_t t;
	int id;
	int ok;
	uint64_t got;
};

/* Sends size seeded bytes and checks the echo, with poll so that the
 * two directions move at once. Returns 0 when every byte came back. */
static int
exchange(int fd, uint64_t seed, uint64_t n, uint64_t *gotp)
{
	unsigned char out[CHUNK], in[CHUNK], want[CHUNK];
	uint64_t sent = 0, got = 0;
	size_t olen = 0, ooff = 0;
	struct pollfd p;
	ssize_t r;
	int wdone = n == 0;

	if (wdone)
		shutdown(fd, SHUT_WR);
	for (;;) {
		p.fd = fd;
		p.events = POLLIN | (wdone ? 0 : POLLOUT);
		if (poll(&p, 1, 30000) <= 0)
			return -1;
		if (!wdone && (p.revents & (POLLOUT | POLLERR))) {
			if (olen == 0) {
				olen = n - sent < CHUNK ? n - sent : CHUNK;
				gen(seed, sent, out, olen);
				ooff = 0;
			}
			r = send(fd, out + ooff, olen, MSG_DONTWAIT);
			if (r == -1 && errno != EAGAIN && errno != EINTR)
				return -1;
			if (r > 0) {
				ooff += r;
				olen -= r;
				sent += r;
				if (sent == n) {
					shutdown(fd, SHUT_WR);
					wdone = 1;
				}
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				break;
			if (got + r > n)
				return -1;
			gen(seed, got, want, r);
			if (memcmp(in, want, r) != 0)
				return -1;
			got += r;
		}
	}
	*gotp = got;
	return got == n && wdone ? 0 : -1;
}

static void *
client_run(void *arg)
{
	struct client *c = arg;
	int fd;

	if ((fd = dial()) == -1)
		return NULL;
	c->ok = exchange(fd, c->id + 1000, size, &c->got) == 0;
	close(fd);
	return NULL;
}

static void
resolve(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	int r;

	if ((r = getaddrinfo(host, port, &hints, &target)) != 0)
		errx(1, "%s: %s", host, gai_strerror(r));
}

static int
run_load(int n)
{
	struct client *c;
	pthread_attr_t attr;
	int i, bad = 0;

	if ((c = calloc(n, sizeof(*c))) == NULL)
		err(1, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	for (i = 0; i < n; i++) {
		c[i].id = i;
		if (pthread_create(&c[i].t, &attr, client_run, &c[i]) != 0)
			errx(1, "pthread_create");
	}
	for (i = 0; i < n; i++) {
		pthread_join(c[i].t, NULL);
		if (!c[i].ok) {
			fprintf(stderr, "client %d: failed after %ju bytes\n",
			    i, (uintmax_t)c[i].got);
			bad++;
		}
	}
	printf("%d clients, %d ok\n", n, n - bad);
	free(c);
	return bad ? 1 : 0;
}

static int
run_seq(int n)
{
	uint64_t got;
	int i, fd;

	for (i = 0; i < n; i++) {
		if ((fd = dial()) == -1) {
			fprintf(stderr, "connection %d: connect failed\n", i);
			return 1;
		}
		if (exchange(fd, i, 1000, &got) != 0) {
			fprintf(stderr, "connection %d: bad echo\n", i);
			return 1;
		}
		close(fd);
	}
	printf("%d connections ok\n", n);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc >= 3 && strcmp(argv[1], "echo") == 0) {
		after_eof = argc > 3 && strcmp(argv[3], "after-eof") == 0;
		return serve_echo(argv[2]);
	}
	if (argc == 3 && strcmp(argv[1], "reset") == 0)
		return serve_reset(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "fullq") == 0)
		return serve_fullq(argv[2], argc > 3 ? argv[3] : NULL);
	if (argc == 6 && strcmp(argv[1], "load") == 0) {
		resolve(argv[2], argv[3]);
		size = strtoull(argv[5], NULL, 10);
		return run_load(atoi(argv[4]));
	}
	if (argc == 5 && strcmp(argv[1], "seq") == 0) {
		resolve(argv[2], argv[3]);
		return run_seq(atoi(argv[4]));
	}
	fprintf(stderr, "usage: zcn-peer echo|reset|fullq|load|seq ...\n");
	return 1;
}
