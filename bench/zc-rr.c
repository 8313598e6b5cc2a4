/*
 * zc-rr: small pipelined requests and their responses. The server (-l)
 * accepts one connection and writes back every byte it reads until end
 * of file, then prints the byte count. The client (-t) sends COUNT
 * requests of -m bytes (default 128), keeping -d of them (default 16)
 * in flight, checks every byte of every response against its request
 * (a sequence number, then the pattern), and prints "COUNT FIRST_NS
 * END_NS": the monotonic clock at the first request sent and at the last
 * response checked. Both sides set TCP_NODELAY.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MSG_MAX (64 * 1024)

static void
usage(void)
{
	fprintf(stderr, "usage: zc-rr -l host:port | -l unix:path "
	    "[-P portfile]\n"
	    "       zc-rr [-d depth] [-m size] [-s stampfile] "
	    "-t host:port | -t unix:path count\n");
	exit(1);
}

static void
nodelay(int fd)
{
	int on = 1;

	/* Fails on unix sockets, which have nothing to delay. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void
write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "write");
		}
		p += w;
		n -= w;
	}
}

/* Request seq of size bytes into p: the sequence number, then the
 * pattern from offset seq * size. */
static void
request(unsigned char *p, const unsigned char *pat, uint64_t seq,
    size_t size)
{
	size_t hdr = size < sizeof(seq) ? size : sizeof(seq);

	memcpy(p, &seq, hdr);
	memcpy(p + hdr, pat + (seq * size) % PATTERN_LEN, size - hdr);
}

static int
serve(const char *spec, const char *portfile)
{
	static unsigned char buf[64 * 1024];
	uint64_t total = 0;
	char port[32];
	ssize_t r;
	int lfd, fd;

	lfd = net_listen(spec);
	if (portfile != NULL) {
		snprintf(port, sizeof(port), "%d\n", net_port(lfd));
		publish_file(portfile, port);
	}
	while ((fd = accept(lfd, NULL, NULL)) == -1)
		if (errno != EINTR)
			err(1, "accept");
	close(lfd);
	nodelay(fd);
	for (;;) {
		if ((r = read(fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "read");
		}
		if (r == 0)
			break;
		write_all(fd, buf, r);
		total += r;
	}
	printf("%" PRIu64 "\n", total);
	return fflush(stdout) == EOF;
}

static int
client(const char *spec, const char *stamp, uint64_t count, size_t size,
    size_t depth)
{
	unsigned char *pat, *out, *in, *want;
	uint64_t sent = 0, done = 0, t0, k, i;
	size_t have = 0, cap = depth * size * 2, at;
	FILE *fp;
	ssize_t r;
	int fd;

	pat = pattern_buf(size);
	if ((out = malloc(depth * size)) == NULL ||
	    (in = malloc(cap)) == NULL || (want = malloc(size)) == NULL)
		err(1, "malloc");
	fd = net_connect(spec, 10000);
	nodelay(fd);
	t0 = mono_ns();
	if (stamp != NULL) {
		if ((fp = fopen(stamp, "w")) == NULL)
			err(1, "%s", stamp);
		fprintf(fp, "%" PRIu64 "\n", t0);
		if (fclose(fp) == EOF)
			err(1, "%s", stamp);
	}
	while (done < count) {
		k = depth - (sent - done);
		if (k > count - sent)
			k = count - sent;
		for (i = 0; i < k; i++)
			request(out + i * size, pat, sent + i, size);
		if (k > 0)
			write_all(fd, out, k * size);
		sent += k;
		if ((r = read(fd, in + have, cap - have)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "read");
		}
		if (r == 0)
			errx(1, "end of file after %" PRIu64 " responses", done);
		have += r;
		for (at = 0; have - at >= size; at += size, done++) {
			request(want, pat, done, size);
			if (memcmp(in + at, want, size) != 0)
				errx(1, "response %" PRIu64 " differs", done);
		}
		memmove(in, in + at, have - at);
		have -= at;
	}
	if (have > 0)
		errx(1, "%zu bytes past the last response", have);
	printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", done, t0, mono_ns());
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	if (shutdown(fd, SHUT_WR) == -1)
		err(1, "shutdown");
	while ((r = read(fd, in, cap)) == -1 && errno == EINTR)
		;
	if (r == -1)
		err(1, "read");
	if (r > 0)
		errx(1, "bytes after the last response");
	free(pat);
	free(out);
	free(in);
	free(want);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *listen_spec = NULL, *target = NULL, *portfile = NULL;
	const char *stamp = NULL, *errstr;
	size_t size = 128, depth = 16;
	uint64_t count;
	int ch;

	die_with_parent();
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "P:d:l:m:s:t:")) != -1) {
		switch (ch) {
		case 'P':
			portfile = optarg;
			break;
		case 'd':
			depth = strtonum(optarg, 1, 1024, &errstr);
			if (errstr != NULL)
				errx(1, "-d: depth %s: %s", errstr, optarg);
			break;
		case 'l':
			listen_spec = optarg;
			break;
		case 'm':
			size = size_arg("-m", optarg);
			if (size == 0 || size > MSG_MAX)
				errx(1, "-m: size out of range");
			break;
		case 's':
			stamp = optarg;
			break;
		case 't':
			target = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((listen_spec == NULL) == (target == NULL))
		usage();
	if (listen_spec != NULL) {
		if (argc != 0)
			usage();
		return serve(listen_spec, portfile);
	}
	if (argc != 1)
		usage();
	count = size_arg("count", argv[0]);
	return client(target, stamp, count, size, depth);
}
