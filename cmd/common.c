/*
 * Helpers shared by zcopy, ztee and zcat-net: the guard of descriptors
 * 0 to 2, quoting in messages, sizes, endpoint opening, the progress line
 * and the statistics line.
 */
#define LIBBSD_NETBSD_VIS	/* strvisx is the same in both; quiets vis.h */

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>

#include "common.h"

#define PROGRESS_INTERVAL 0.25
#define VIS_FLAGS (VIS_OCTAL | VIS_TAB | VIS_NL | VIS_NOLOCALE)

static int closed_at_start[3];

void
stdio_guard(void)
{
	int fd, nfd;

	for (fd = 0; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		closed_at_start[fd] = 1;
		/* The lowest free descriptor: fd itself, as those below
		 * it are open by now. */
		if ((nfd = open("/dev/null", O_PATH)) == -1)
			err(1, "/dev/null");
		if (nfd != fd) {
			if (dup2(nfd, fd) == -1)
				err(1, "dup2");
			close(nfd);
		}
	}
}

int
stdio_closed(int fd)
{
	return fd >= 0 && fd <= STDERR_FILENO && closed_at_start[fd];
}

void
esc_buf(char *buf, size_t size, const char *s, size_t len)
{
	size_t n = len;

	if (size == 0)
		return;
	/* Each byte takes at most 4; keep room for "..." and the NUL. */
	if (4 * n + 1 > size)
		n = size < 8 ? 0 : (size - 4) / 4;
	strvisx(buf, s, n, VIS_FLAGS);
	if (n < len)
		strlcat(buf, "...", size);
}

const char *
esc(const char *text)
{
	static char ring[4][4 * ZC_SPEC_PATH_MAX + 4];
	static int next;
	char *buf = ring[next];

	next = (next + 1) % 4;
	esc_buf(buf, sizeof(ring[0]), text, strlen(text));
	return buf;
}

uint64_t
parse_size(const char *opt, const char *text)
{
	uint64_t n;

	errno = 0;
	if (!isdigit((unsigned char)text[0]) ||
	    expand_number(text, &n) == -1 || errno == ERANGE)
		errx(1, "%s: invalid size '%s'", opt, esc(text));
	return n;
}

int
try_open_spec(struct zc_endpoint *ep, const char *text, unsigned flags,
    int timeout_ms)
{
	struct zc_spec sp;
	const char *why = NULL;
	int r;

	ep->fd = -1;
	if ((r = zc_spec_parse(&sp, text, &why)) < 0) {
		warnx("spec '%s': %s", esc(text),
		    why != NULL ? why : zc_strerror(r));
		return r;
	}
	if (sp.kind == ZC_SPEC_STDIO &&
	    stdio_closed(flags & ZC_OPEN_WRITE ? 1 : 0)) {
		warnx("standard %s: %s", flags & ZC_OPEN_WRITE ? "output" :
		    "input", strerror(EBADF));
		return -EBADF;
	}
	if (sp.kind == ZC_SPEC_FD && stdio_closed(sp.fd)) {
		warnx("spec '%s': %s", esc(text), strerror(EBADF));
		return -EBADF;
	}
	if ((r = zc_endpoint_open(ep, &sp, flags, timeout_ms)) < 0) {
		warnx("spec '%s': %s", esc(text), zc_strerror(r));
		ep->fd = -1;
		return r;
	}
	return 0;
}

void
open_spec(struct zc_endpoint *ep, const char *text, unsigned flags,
    int timeout_ms)
{
	if (try_open_spec(ep, text, flags, timeout_ms) < 0)
		exit(1);
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes n as "1.5 MiB" into buf (at least HUMAN_LEN bytes). */
#define HUMAN_LEN 16
static void
human(char *buf, double n)
{
	if (n > INT64_MAX)
		n = INT64_MAX;
	if (humanize_number(buf, 8, (int64_t)n, "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_IEC_PREFIXES) == -1)
		snprintf(buf, HUMAN_LEN, "%.0f B", n);
}

/* Writes a duration as H:MM:SS into buf. */
static void
clock_text(char *buf, size_t len, double s)
{
	unsigned long t;

	t = s < 0 ? 0 : s > 359999999 ? 359999999 : (unsigned long)(s + 0.5);
	snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
}

void
progress_init(struct progress *p, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->start = now_seconds();
	p->total = total;
	p->tty = isatty(STDERR_FILENO);
}

void
progress_update(struct progress *p, uint64_t bytes, int final)
{
	char line[160], sz[HUMAN_LEN], rate[HUMAN_LEN], el[32], eta[32];
	double now, secs, bps;
	int len, pad;

	now = now_seconds();
	if (!final && (!p->tty || now - p->last < PROGRESS_INTERVAL))
		return;
	p->last = now;
	secs = now - p->start;
	bps = secs > 0 ? bytes / secs : 0;
	human(sz, bytes);
	human(rate, bps);
	clock_text(el, sizeof(el), secs);
	len = snprintf(line, sizeof(line), "%s %s [%s/s]", sz, el, rate);
	if (p->total > 0 && len > 0 && (size_t)len < sizeof(line)) {
		double pct = bytes >= p->total ? 100.0 :
		    100.0 * bytes / p->total;

		if (final || bytes >= p->total)
			len += snprintf(line + len, sizeof(line) - len,
			    " %3.0f%%", pct);
		else {
			if (bps > 0)
				clock_text(eta, sizeof(eta),
				    (p->total - bytes) / bps);
			else
				strlcpy(eta, "-:--:--", sizeof(eta));
			len += snprintf(line + len, sizeof(line) - len,
			    " %3.0f%% ETA %s", pct, eta);
		}
	}
	if (len < 0)
		return;
	if (len >= (int)sizeof(line))
		len = sizeof(line) - 1;
	pad = p->shown > len ? p->shown - len : 0;
	if (p->tty)
		fprintf(stderr, "\r%s%*s", line, pad, "");
	else
		fputs(line, stderr);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
	p->shown = final ? 0 : len;
}

void
print_stats(const char *label, const struct zc_stats *st, double seconds)
{
	char rate[HUMAN_LEN];
	const char *sep = ": ";
	int m;

	human(rate, seconds > 0 ? st->bytes / seconds : 0);
	fprintf(stderr, "%s: ", getprogname());
	if (label != NULL)
		fprintf(stderr, "%s: ", esc(label));
	fprintf(stderr, "%ju bytes in %.3f s (%s/s)", (uintmax_t)st->bytes,
	    seconds, rate);
	for (m = 0; m < ZC_METHOD_COUNT; m++) {
		if (st->by_method[m] == 0)
			continue;
		fprintf(stderr, "%s%s %ju", sep, zc_method_name(m),
		    (uintmax_t)st->by_method[m]);
		sep = ", ";
	}
	fputc('\n', stderr);
}
