/*
 * Helpers shared by zcopy, ztee and zcat-net: the guard of descriptors
 * 0 to 2, quoting in messages (esc, and shquote for ztee's GNU tee
 * messages), sizes and rates, the final write of --help and --version,
 * endpoint opening, the end of a subscriber's socket, the progress line (pv's: size, elapsed time, rate, a
 * bar with percentage and ETA or a moving marker) and the statistics
 * line.
 */
#define LIBBSD_NETBSD_VIS	/* strvisx is the same in both; quiets vis.h */
#include <sys/ioctl.h>
#include <sys/socket.h>

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

#define PROGRESS_INTERVAL 0.5
#define VIS_FLAGS (VIS_OCTAL | VIS_TAB | VIS_NL | VIS_NOLOCALE)

static int closed_at_start[3];

void
sock_end(int fd)
{
	char junk[4096];
	int i;

	shutdown(fd, SHUT_WR);
	for (i = 0; i < 64; i++)
		if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
			break;
}

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

int
size_parse(const char *text, uint64_t *n)
{
	static const char letters[] = "KMGTPE";
	const char *p = text, *l;
	uint64_t v = 0, unit = 1, base = 1024;
	int i, power, big = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (*p - '0')) / 10)
			big = 1;
		else
			v = v * 10 + (*p - '0');
	}
	if (*p == 'b' && p[1] == '\0')
		unit = 512;
	else if (*p != '\0') {
		/* k and m in either case, the others upper case only. */
		if ((l = strchr(letters, *p == 'k' || *p == 'm' ?
		    toupper((unsigned char)*p) : *p)) == NULL)
			return -EINVAL;
		power = l - letters + 1;
		if (p[1] == 'B' || p[1] == 'D') {
			base = 1000;
			p += 2;
		} else if (p[1] == 'i' && p[2] == 'B')
			p += 3;
		else
			p++;
		if (*p != '\0')
			return -EINVAL;
		for (i = 0; i < power; i++)
			unit *= base;
	}
	if (big)
		return -ERANGE;
	if (v != 0 && unit > UINT64_MAX / v)
		return -ERANGE;
	*n = v * unit;
	return 0;
}

uint64_t
parse_size(const char *what, const char *text)
{
	uint64_t n;
	int r;

	if ((r = size_parse(text, &n)) == -ERANGE)
		errx(1, "invalid %s: '%s': %s", what, esc(text),
		    strerror(EOVERFLOW));
	if (r < 0)
		errx(1, "invalid %s: '%s'", what, esc(text));
	return n;
}

uint64_t
parse_rate(const char *text)
{
	uint64_t n;

	if ((n = parse_size("rate", text)) == 0)
		errx(1, "invalid rate: '%s'", esc(text));
	return n;
}

void
stdout_exit(int status)
{
	if (fflush(stdout) == EOF || ferror(stdout) || fclose(stdout) == EOF) {
		warn("write error");
		exit(1);
	}
	exit(status);
}

/* Returns whether shquote leaves c as it is: at the start of a word,
 * or later (where '#' and '~' are plain). */
static int
sh_plain(unsigned char c, int first)
{
	if (isalnum(c) || strchr("%+,-./@]_{}", c) != NULL)
		return c != '\0';
	return !first && (c == '#' || c == '~');
}

/* Returns whether c may stand between double quotes in shquote's
 * output for a word with a single quote ('#' and '~' first only). */
static int
sh_dq(unsigned char c, int first)
{
	if (isalnum(c) || strchr(" %'+,-./:@]_", c) != NULL)
		return c != '\0';
	return first && (c == '#' || c == '~');
}

const char *
shquote(const char *text)
{
	static char *ring[4];
	static int next;
	static const char named[] = "\a\b\t\n\v\f\r", names[] = "abtnvfr";
	const unsigned char *s = (const unsigned char *)text;
	size_t i, len = strlen(text), o = 0;
	int plain = 1, dq = 0, sq = 0, dollar = 0;
	char *buf;

	for (i = 0; i < len; i++) {
		plain &= sh_plain(s[i], i == 0);
		sq |= s[i] == '\'';
	}
	if (len > 0 && plain)
		return text;
	if (sq) {
		for (dq = 1, i = 0; i < len; i++)
			dq &= sh_dq(s[i], i == 0);
	}
	/* At most 10 bytes for one ('$'\ooo'' then '\''), and 5 more. */
	free(ring[next]);
	if ((buf = ring[next] = malloc(10 * len + 5)) == NULL)
		err(1, NULL);
	next = (next + 1) % 4;
	if (dq) {
		snprintf(buf, len + 3, "\"%s\"", text);
		return buf;
	}
	/* GNU writes '' first when a word with a ' ends with an escape. */
	if (sq && (s[len - 1] < 0x20 || s[len - 1] >= 0x7f)) {
		memcpy(buf + o, "''", 2);
		o += 2;
	}
	buf[o++] = '\'';
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		const char *nm;

		if (c == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
			dollar = 0;
		} else if (c < 0x20 || c >= 0x7f) {
			if (!dollar) {
				memcpy(buf + o, "'$'", 3);
				o += 3;
				dollar = 1;
			}
			buf[o++] = '\\';
			if (c != 0 && (nm = strchr(named, c)) != NULL)
				buf[o++] = names[nm - named];
			else {
				buf[o++] = '0' + (c >> 6);
				buf[o++] = '0' + ((c >> 3) & 7);
				buf[o++] = '0' + (c & 7);
			}
		} else {
			if (dollar) {
				memcpy(buf + o, "''", 2);
				o += 2;
				dollar = 0;
			}
			buf[o++] = c;
		}
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
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

void
size_text(char *buf, size_t len, double n)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	int u = 0;

	if (n < 0)
		n = 0;
	while (n >= 999.5 && u < 6) {
		n /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f%s", n, units[u]);
	else if (n < 9.995)
		snprintf(buf, len, "%.2f%s", n, units[u]);
	else if (n < 99.95)
		snprintf(buf, len, "%.1f%s", n, units[u]);
	else
		snprintf(buf, len, "%.0f%s", n, units[u]);
}

/* Writes a duration as H:MM:SS into buf (whole seconds, as pv). */
static void
clock_text(char *buf, size_t len, double s)
{
	unsigned long t;

	t = s < 0 ? 0 : s > 359999999 ? 359999999 : (unsigned long)s;
	snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
}

/* The width of the terminal on stderr: its window size, COLUMNS, 80. */
static int
columns(void)
{
	struct winsize ws;
	const char *c;
	int n;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if ((c = getenv("COLUMNS")) != NULL && (n = atoi(c)) > 0)
		return n;
	return 80;
}

void
progress_init(struct progress *p, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->start = p->last = now_seconds();
	p->due = p->start + PROGRESS_INTERVAL;
	p->tty = isatty(STDERR_FILENO);
	if (total != PROGRESS_NONE)
		progress_lane(p, NULL, total);
}

int
progress_lane(struct progress *p, const char *label, uint64_t total)
{
	struct progress_lane *l;

	if (p->nlanes == PROGRESS_LANES)
		return -1;
	l = &p->lane[p->nlanes];
	memset(l, 0, sizeof(*l));
	l->label = label;
	l->total = total;
	return p->nlanes++;
}

/* Writes into buf the bar of one lane, width columns inside the
 * brackets: filled to the percentage, or a marker that moves back and
 * forth when the size is unknown. */
static void
bar_text(char *buf, const struct progress_lane *l, int width, int frame)
{
	int i, fill, pos, span;

	buf[0] = '[';
	for (i = 1; i <= width; i++)
		buf[i] = ' ';
	if (l->total > 0) {
		fill = l->bytes >= l->total ? width :
		    (int)((double)width * l->bytes / l->total);
		for (i = 1; i <= fill; i++)
			buf[i] = '=';
		if (fill < width && fill > 0)
			buf[fill] = '>';
	} else if (width >= 3) {
		span = width - 3;
		pos = span > 0 ? frame % (2 * span) : 0;
		if (pos > span)
			pos = 2 * span - pos;
		memcpy(buf + 1 + pos, "<=>", 3);
	}
	buf[width + 1] = ']';
	buf[width + 2] = '\0';
}

/* Appends the text of one lane to line (at len, of size) with a bar of
 * barw columns (none when < 1); returns the new length. */
static int
lane_text(char *line, int len, size_t size, const struct progress *p,
    const struct progress_lane *l, double secs, double dt, int final,
    int barw)
{
	char sz[HUMAN_LEN], rate[HUMAN_LEN], el[32], eta[32], bar[256];
	double bps, avg;

	avg = secs > 0 ? l->bytes / secs : 0;
	bps = final ? avg : dt > 0 && l->bytes > l->last_bytes ?
	    (l->bytes - l->last_bytes) / dt : 0;
	size_text(sz, sizeof(sz), l->bytes);
	size_text(rate, sizeof(rate), bps);
	clock_text(el, sizeof(el), secs);
#define ADD(...) do {							\
	if (len >= 0 && (size_t)len < size)				\
		len += snprintf(line + len, size - len, __VA_ARGS__);	\
} while (0)
	if (l->label != NULL)
		ADD("%s%s ", len > 0 ? "  " : "", l->label);
	ADD("%s", sz);
	if (p->nlanes == 1)
		ADD(" %s", el);
	ADD(" [%s/s]", rate);
	if (barw > (int)sizeof(bar) - 3)
		barw = sizeof(bar) - 3;
	if (barw > 0 && !(final && l->total == 0)) {
		bar_text(bar, l, barw, p->frame);
		ADD(" %s", bar);
	}
	if (l->total > 0) {
		ADD(" %3.0f%%", l->bytes >= l->total ? 100.0 :
		    100.0 * l->bytes / l->total);
		if (!final) {
			if (l->bytes >= l->total)
				clock_text(eta, sizeof(eta), 0);
			else if (avg > 0)
				clock_text(eta, sizeof(eta),
				    (l->total - l->bytes) / avg);
			else
				strlcpy(eta, "-:--:--", sizeof(eta));
			ADD(" ETA %s", eta);
		}
	}
#undef ADD
	if (len < 0)
		return 0;
	return (size_t)len >= size ? (int)size - 1 : len;
}

void
progress_set(struct progress *p, int lane, uint64_t bytes)
{
	if (lane >= 0 && lane < p->nlanes)
		p->lane[lane].bytes = bytes;
}

void
progress_draw(struct progress *p, int final)
{
	char line[1024], el[32];
	double now, secs, dt;
	int i, len = 0, pad, fixed, barw, cols;

	if (p->nlanes == 0)
		return;
	now = now_seconds();
	/* Redraws keep to a schedule: offered every PROGRESS_TICK_MS, they
	 * would otherwise drift by up to a tick each. */
	if (!final && (!p->tty || now < p->due))
		return;
	p->due += PROGRESS_INTERVAL;
	if (p->due < now)
		p->due = now + PROGRESS_INTERVAL;
	dt = now - p->last;
	secs = now - p->start;
	/* Lay the line out once without bars to see the room left (as a
	 * running line, so that the final one keeps the same bars). */
	for (i = 0; i < p->nlanes; i++)
		len = lane_text(line, len, sizeof(line), p, &p->lane[i], secs,
		    dt, 0, 0);
	fixed = len + (p->nlanes > 1 ? 8 : 0);
	cols = columns();
	if (cols > (int)sizeof(line) - 1)
		cols = sizeof(line) - 1;
	barw = (cols - 1 - fixed) / p->nlanes - 3;
	if (barw < 5 || !p->tty)
		barw = 0;
	len = 0;
	if (p->nlanes > 1) {
		clock_text(el, sizeof(el), secs);
		len = snprintf(line, sizeof(line), "%s", el);
	}
	for (i = 0; i < p->nlanes; i++) {
		len = lane_text(line, len, sizeof(line), p, &p->lane[i], secs,
		    dt, final, barw);
		p->lane[i].last_bytes = p->lane[i].bytes;
	}
	p->last = now;
	p->frame++;
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
progress_update(struct progress *p, uint64_t bytes, int final)
{
	progress_set(p, 0, bytes);
	progress_draw(p, final);
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
