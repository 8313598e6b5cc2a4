/*
 * zc-pattern: the offset pattern of the live-stream tests, in which
 * every 8-byte little-endian word is its own byte offset in the stream,
 * so that a slice can be checked wherever it starts.
 *
 *   zc-pattern gen [-r RATE] [-o START] SIZE
 *	writes SIZE bytes of the pattern from stream offset START (0) to
 *	standard output, at most RATE bytes a second (paced in steps of
 *	at most 256 KiB; no bound by default)
 *   zc-pattern check [-n MIN]
 *	reads standard input, places its first bytes in the stream (any
 *	byte offset) and checks every byte after them; prints
 *	"OFFSET LENGTH" and exits 0 ("0 0" for no byte), or tells the
 *	first bad byte and exits 1 (also for fewer than MIN bytes, and
 *	for 1 to 15 bytes, too few to place for sure)
 *   zc-pattern sub [-n MIN] [-b BYTES] [-t SECONDS] [-s SECONDS]
 *	    [-r RATE] [-l FILE] [-U] HOST PORT | PATH
 *	connects (TCP, or the unix socket PATH with -U), reads and checks
 *	as check does, at most RATE bytes a second; leaves (close) after
 *	BYTES bytes or SECONDS seconds, or at end of input; prints
 *	"OFFSET LENGTH" when it leaves; with -s stops reading after
 *	SECONDS, prints "OFFSET LENGTH" and stays connected until killed
 *   zc-pattern stall [-l FILE] [-U] HOST PORT | PATH
 *	connects and never reads, until killed
 *
 * With -l, sub and stall write their own end's "ADDR:PORT" (TCP; "-"
 * for unix) and a newline to FILE once connected.
 *
 * Sizes take K, M, G (powers of 1024); seconds may have a fraction.
 * Memory stays flat whatever the size. Exit 0 pass, 1 fail.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <endian.h>
#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STEP (256 * 1024)

static unsigned char buf[STEP];

static uint64_t
size_arg(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		errx(1, "bad size: %s", s);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end != '\0')
		errx(1, "bad size: %s", s);
	return v;
}

static double
secs_arg(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < 0)
		errx(1, "bad seconds: %s", s);
	return v;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_until(double t)
{
	struct timespec ts;
	double d = t - now();

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The byte at stream offset off. */
static unsigned char
pat_byte(uint64_t off)
{
	return (unsigned char)((off & ~(uint64_t)7) >> (8 * (off & 7)));
}

static void
pat_fill(unsigned char *p, size_t len, uint64_t off)
{
	uint64_t w;

	while (len > 0 && (off & 7) != 0) {
		*p++ = pat_byte(off++);
		len--;
	}
	for (; len >= 8; p += 8, off += 8, len -= 8) {
		w = htole64(off);
		memcpy(p, &w, 8);
	}
	while (len > 0) {
		*p++ = pat_byte(off++);
		len--;
	}
}

/* The index of the first byte of p that is not the pattern at off, or
 * len when they all are. */
static size_t
pat_diff(const unsigned char *p, size_t len, uint64_t off)
{
	size_t i = 0;
	uint64_t w, want;

	while (i < len && ((off + i) & 7) != 0) {
		if (p[i] != pat_byte(off + i))
			return i;
		i++;
	}
	for (; len - i >= 8; i += 8) {
		memcpy(&w, p + i, 8);
		want = htole64(off + i);
		if (w != want)
			break;
	}
	for (; i < len; i++)
		if (p[i] != pat_byte(off + i))
			return i;
	return len;
}

static int
gen(int argc, char *argv[])
{
	uint64_t rate = 0, off = 0, size, sent = 0;
	double t0;
	size_t n;
	ssize_t w;
	int c;

	while ((c = getopt(argc, argv, "o:r:")) != -1) {
		switch (c) {
		case 'o': off = size_arg(optarg); break;
		case 'r': rate = size_arg(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind != 1)
		errx(1, "usage: zc-pattern gen [-r RATE] [-o START] SIZE");
	size = size_arg(argv[optind]);
	t0 = now();
	while (sent < size) {
		n = size - sent < STEP ? size - sent : STEP;
		/* A step of at most a hundredth of a second's bytes. */
		if (rate > 0 && rate / 100 < n)
			n = rate / 100 > 4096 ? rate / 100 : 4096;
		if (n > size - sent)
			n = size - sent;
		pat_fill(buf, n, off + sent);
		for (size_t done = 0; done < n; done += w) {
			w = write(STDOUT_FILENO, buf + done, n - done);
			if (w == -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				err(1, "write");
			}
		}
		sent += n;
		if (rate > 0)
			sleep_until(t0 + (double)sent / rate);
	}
	return 0;
}

/* A checker of one slice fed in pieces. */
struct checker {
	unsigned char head[64];	/* the first bytes, until placed */
	size_t hlen;
	int placed;
	int bad;
	uint64_t start;		/* stream offset of the first byte */
	uint64_t len;		/* bytes taken */
};

/* Places the slice from its first bytes: for each of the 8 alignments,
 * the first whole word must be a multiple of 8 that is its own offset,
 * and the bytes before it must match. 0, or -1 when none fits. */
static int
place(struct checker *ck)
{
	uint64_t w;
	size_t k;

	for (k = 0; k < 8 && k + 8 <= ck->hlen; k++) {
		memcpy(&w, ck->head + k, 8);
		w = le64toh(w);
		if ((w & 7) != 0 || w < k)
			continue;
		if (pat_diff(ck->head, ck->hlen, w - k) == ck->hlen) {
			ck->start = w - k;
			ck->placed = 1;
			return 0;
		}
	}
	return -1;
}

/* Takes len more bytes; 0, or -1 after telling the first bad byte. */
static int
feed(struct checker *ck, const unsigned char *p, size_t len)
{
	size_t n, d;

	if (ck->bad)
		return -1;
	if (!ck->placed) {
		n = sizeof(ck->head) - ck->hlen;
		if (n > len)
			n = len;
		memcpy(ck->head + ck->hlen, p, n);
		ck->hlen += n;
		p += n;
		len -= n;
		if (ck->hlen < sizeof(ck->head))
			return 0;
		if (place(ck) == -1) {
			warnx("the first %zu bytes are not the pattern at any"
			    " offset", ck->hlen);
			ck->bad = 1;
			return -1;
		}
		ck->len = ck->hlen;
	}
	d = pat_diff(p, len, ck->start + ck->len);
	if (d < len) {
		warnx("bad byte at %ju of the input (stream offset %ju):"
		    " 0x%02x, want 0x%02x", (uintmax_t)(ck->len + d),
		    (uintmax_t)(ck->start + ck->len + d), p[d],
		    pat_byte(ck->start + ck->len + d));
		ck->bad = 1;
		return -1;
	}
	ck->len += len;
	return 0;
}

/* Ends the slice: prints "OFFSET LENGTH" and returns 0, or 1. */
static int
finish(struct checker *ck, uint64_t min)
{
	if (ck->bad)
		return 1;
	if (!ck->placed) {
		if (ck->hlen == 0) {
			if (min > 0) {
				warnx("no byte, want at least %ju",
				    (uintmax_t)min);
				return 1;
			}
			printf("0 0\n");
			return 0;
		}
		/* Fewer than 16 bytes could fit more than one offset. */
		if (ck->hlen < 16 || place(ck) == -1) {
			warnx("%zu bytes that cannot be placed", ck->hlen);
			return 1;
		}
		ck->len = ck->hlen;
	}
	if (ck->len < min) {
		warnx("%ju bytes, want at least %ju", (uintmax_t)ck->len,
		    (uintmax_t)min);
		return 1;
	}
	printf("%ju %ju\n", (uintmax_t)ck->start, (uintmax_t)ck->len);
	return 0;
}

static int
check(int argc, char *argv[])
{
	struct checker ck = { 0 };
	uint64_t min = 0;
	ssize_t r;
	int c;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		switch (c) {
		case 'n': min = size_arg(optarg); break;
		default: return 2;
		}
	}
	for (;;) {
		r = read(STDIN_FILENO, buf, sizeof(buf));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			err(1, "read");
		if (r == 0)
			break;
		if (feed(&ck, buf, r) == -1)
			return 1;
	}
	return finish(&ck, min);
}

/* A connected socket to HOST PORT, or to PATH with unix. */
static int
dial(int unix_, char *argv[], int argc)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd, r;

	if (unix_) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (argc != 1)
			errx(1, "-U takes one operand, PATH");
		if (strlen(argv[0]) >= sizeof(sun.sun_path))
			errx(1, "%s: path too long", argv[0]);
		strcpy(sun.sun_path, argv[0]);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
			err(1, "socket");
		if (connect(fd, (void *)&sun, sizeof(sun)) == -1)
			err(1, "%s", argv[0]);
		return fd;
	}
	if (argc != 2)
		errx(1, "want HOST PORT");
	if ((r = getaddrinfo(argv[0], argv[1], &hints, &res)) != 0)
		errx(1, "%s: %s", argv[0], gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			freeaddrinfo(res);
			return fd;
		}
		close(fd);
	}
	err(1, "%s %s", argv[0], argv[1]);
}

/* -l: fd's local address as messages show a peer, written to path
 * whole (rename), so that a reader never sees half of it. */
static void
put_local(int fd, const char *path)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV], tmp[4096];
	FILE *fp;

	if (path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		err(1, "getsockname");
	if (ss.ss_family == AF_UNIX)
		fprintf(fp, "-\n");
	else if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		errx(1, "getnameinfo");
	else
		fprintf(fp, ss.ss_family == AF_INET6 ? "[%s]:%s\n" :
		    "%s:%s\n", host, serv);
	if (fclose(fp) != 0 || rename(tmp, path) == -1)
		err(1, "%s", path);
}

static int
sub(int argc, char *argv[])
{
	struct checker ck = { 0 };
	uint64_t min = 0, bytes = UINT64_MAX, rate = 0, got = 0;
	double secs = -1, stop = -1, t0, t;
	const char *lfile = NULL;
	struct pollfd pfd;
	size_t n;
	ssize_t r;
	int c, unix_ = 0, fd, ms;

	while ((c = getopt(argc, argv, "b:l:n:r:s:t:U")) != -1) {
		switch (c) {
		case 'b': bytes = size_arg(optarg); break;
		case 'l': lfile = optarg; break;
		case 'n': min = size_arg(optarg); break;
		case 'r': rate = size_arg(optarg); break;
		case 's': stop = secs_arg(optarg); break;
		case 't': secs = secs_arg(optarg); break;
		case 'U': unix_ = 1; break;
		default: return 2;
		}
	}
	fd = dial(unix_, argv + optind, argc - optind);
	put_local(fd, lfile);
	t0 = now();
	while (got < bytes) {
		t = now() - t0;
		if (stop >= 0 && t >= stop) {
			/* What it has so far, then connected for ever. */
			if (finish(&ck, min) != 0)
				return 1;
			fflush(stdout);
			for (;;)
				pause();
		}
		if (secs >= 0 && t >= secs)
			break;
		ms = -1;
		if (secs >= 0)
			ms = (int)((secs - t) * 1000) + 1;
		if (stop >= 0 && (ms < 0 || (stop - t) * 1000 + 1 < ms))
			ms = (int)((stop - t) * 1000) + 1;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, ms) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (pfd.revents == 0)
			continue;
		n = sizeof(buf);
		if (rate > 0 && rate / 100 < n)
			n = rate / 100 > 1024 ? rate / 100 : 1024;
		if (bytes - got < n)
			n = bytes - got;
		r = read(fd, buf, n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			err(1, "read");
		if (r == 0)
			break;
		got += r;
		if (feed(&ck, buf, r) == -1)
			return 1;
		if (rate > 0)
			sleep_until(t0 + (double)got / rate);
	}
	close(fd);
	return finish(&ck, min);
}

static int
stall(int argc, char *argv[])
{
	const char *lfile = NULL;
	int c, unix_ = 0;

	while ((c = getopt(argc, argv, "l:U")) != -1) {
		switch (c) {
		case 'l': lfile = optarg; break;
		case 'U': unix_ = 1; break;
		default: return 2;
		}
	}
	put_local(dial(unix_, argv + optind, argc - optind), lfile);
	for (;;)
		pause();
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_DFL);
	if (argc >= 2 && strcmp(argv[1], "gen") == 0)
		return gen(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sub") == 0)
		return sub(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "stall") == 0)
		return stall(argc - 1, argv + 1);
	fprintf(stderr, "usage: zc-pattern gen|check|sub|stall ...\n");
	return 1;
}
