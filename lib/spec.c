/*
 * Endpoint spec parsing: text to struct zc_spec, with no I/O, no
 * allocation and no locale. The grammar is zerocopy-endpoints(7).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zerocopy.h"

#define UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define QUOTE_MAX 40

/* Messages that quote part of the spec are built here. */
static __thread char why_buf[128];

struct prefix {
	const char *name;
	enum zc_spec_kind kind;
	int family;
};

static const struct prefix prefixes[] = {
	{ "fd", ZC_SPEC_FD, AF_UNSPEC },
	{ "file", ZC_SPEC_FILE, AF_UNSPEC },
	{ "unix", ZC_SPEC_UNIX, AF_UNSPEC },
	{ "unix-listen", ZC_SPEC_UNIX_LISTEN, AF_UNSPEC },
	{ "tcp", ZC_SPEC_TCP, AF_UNSPEC },
	{ "tcp4", ZC_SPEC_TCP, AF_INET },
	{ "tcp6", ZC_SPEC_TCP, AF_INET6 },
	{ "listen", ZC_SPEC_TCP_LISTEN, AF_UNSPEC },
	{ "tcp-listen", ZC_SPEC_TCP_LISTEN, AF_UNSPEC },
	{ "tcp4-listen", ZC_SPEC_TCP_LISTEN, AF_INET },
	{ "tcp6-listen", ZC_SPEC_TCP_LISTEN, AF_INET6 },
};

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_xdigit(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Returns fmt with its one "%s" replaced by the first len bytes of s,
 * each byte that is not printable ASCII, and the backslash, written as
 * a backslash and three octal digits (as strvis(3) with VIS_OCTAL does);
 * shown in at most QUOTE_MAX characters, then "..." when cut. */
static const char *
why_quote(const char *fmt, const char *s, size_t len)
{
	static const char octal[] = "01234567";
	char *o = why_buf, *end = why_buf + sizeof(why_buf) - 1;
	const char *f;
	size_t i, shown, w;

	for (f = fmt; *f != '\0' && o < end; f++) {
		if (f[0] != '%' || f[1] != 's') {
			*o++ = *f;
			continue;
		}
		f++;
		for (i = shown = 0; i < len; i++, shown += w) {
			unsigned char c = s[i];

			w = (c < 0x20 || c > 0x7e || c == '\\') ? 4 : 1;
			if (shown + w > QUOTE_MAX || o + w > end)
				break;
			if (w == 1) {
				*o++ = c;
				continue;
			}
			*o++ = '\\';
			*o++ = octal[c >> 6];
			*o++ = octal[(c >> 3) & 7];
			*o++ = octal[c & 7];
		}
		if (i < len)
			for (w = 0; w < 3 && o < end; w++)
				*o++ = '.';
	}
	*o = '\0';
	return why_buf;
}

static int
fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return -EINVAL;
}

/* Copies the first len bytes of s into dst (size bytes); 0, or -1 when
 * it does not fit. */
static int
copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Returns the port number in s[0..len), or -1 when it is not a decimal
 * number from lo to 65535. */
static long
parse_port(const char *s, size_t len, long lo)
{
	long v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > 65535)
			return -1;
	}
	return v < lo ? -1 : v;
}

static void
format_port(char *dst, long v)
{
	char tmp[8];
	size_t n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v > 0);
	while (n > 0)
		*dst++ = tmp[--n];
	*dst = '\0';
}

/* Scans the address part of s[0..len), up to a '%' or the end: returns
 * how many colons it has, or -1 when anything but hex digits, dots and
 * colons stands in it; *end is where the scan stopped. */
static ssize_t
ipv6_colons(const char *s, size_t len, size_t *end)
{
	size_t i, colons = 0;

	for (i = 0; i < len && s[i] != '%'; i++) {
		if (s[i] == ':')
			colons++;
		else if (!is_xdigit(s[i]) && s[i] != '.')
			return -1;
	}
	*end = i;
	return (ssize_t)colons;
}

/* Returns whether s[0..len) can only be an unbracketed IPv6 address
 * (with a port or not): hex digits, dots and colons, with "::" or at
 * least three colons. */
static int
looks_like_ipv6(const char *s, size_t len)
{
	size_t end;
	ssize_t colons = ipv6_colons(s, len, &end);

	if (colons < 0)
		return 0;
	return colons >= 3 || memmem(s, len, "::", 2) != NULL;
}

static int
valid_host(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.' &&
		    s[i] != '_')
			return 0;
	return 1;
}

/* An IPv6 literal: hex digits, colons (at least two) and dots, then an
 * optional %SCOPE of letters, digits, '-', '_' and '.'. */
static int
valid_ipv6(const char *s, size_t len)
{
	size_t i;

	if (ipv6_colons(s, len, &i) < 2)
		return 0;
	if (i < len) {
		if (++i == len)
			return 0;
		if (!valid_host(s + i, len - i))
			return 0;
	}
	return 1;
}

/* Fills in host, port and family from "HOST:PORT", "[V6]:PORT", and for
 * listen kinds "PORT". */
static int
parse_hostport(struct zc_spec *sp, const char *s, int listen,
    const char *prefix, const char **why)
{
	const char *host, *port, *colon;
	size_t hlen, plen, len = strlen(s);
	long v;

	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb == NULL)
			return fail(why, "missing ']' after IPv6 address");
		host = s + 1;
		hlen = rb - host;
		if (hlen == 0)
			return fail(why, "empty IPv6 address");
		if (!valid_ipv6(host, hlen))
			return fail(why, why_quote("bad IPv6 address '%s'",
			    host, hlen));
		if (sp->family == AF_INET)
			return fail(why, why_quote(
			    "'%s' cannot take an IPv6 address",
			    prefix, strlen(prefix)));
		sp->family = AF_INET6;
		if (rb[1] == '\0' || (rb[1] == ':' && rb[2] == '\0'))
			return fail(why, "missing port");
		if (rb[1] != ':')
			return fail(why, "expected ':' after ']'");
		port = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			if (!listen)
				return fail(why, len == 0 ?
				    "missing host and port" : "missing port");
			host = s;
			hlen = 0;
			port = s;
		} else {
			host = s;
			hlen = colon - s;
			port = colon + 1;
			if (memchr(s, ':', hlen) != NULL) {
				if (looks_like_ipv6(s, len))
					return fail(why, "IPv6 address needs "
					    "brackets: [ADDR]:PORT");
				return fail(why, why_quote(
				    "bad host name '%s'", host, hlen));
			}
			if (hlen == 0)
				return fail(why, "missing host");
		}
		if (!valid_host(host, hlen))
			return fail(why, why_quote("bad host name '%s'",
			    host, hlen));
	}
	if (copy(sp->host, sizeof(sp->host), host, hlen) == -1)
		return fail(why, "host name too long (max 255 bytes)");
	plen = strlen(port);
	if (plen == 0)
		return fail(why, "missing port");
	if ((v = parse_port(port, plen, listen ? 0 : 1)) == -1)
		return fail(why, why_quote(listen ?
		    "port '%s' is not a number from 0 to 65535" :
		    "port '%s' is not a number from 1 to 65535", port, plen));
	format_port(sp->port, v);
	return 0;
}

static int
parse_path(struct zc_spec *sp, const char *s, size_t max, const char **why)
{
	size_t len = strlen(s);

	if (len == 0)
		return fail(why, "empty path");
	if (len > max)
		return fail(why, max == UNIX_PATH_MAX ?
		    "unix socket path too long (max 107 bytes)" :
		    "path too long (max 4095 bytes)");
	memcpy(sp->path, s, len + 1);
	return 0;
}

static int
parse_fd(struct zc_spec *sp, const char *s, const char **why)
{
	long v = 0;
	size_t i, len = strlen(s);

	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]) || (v = v * 10 + (s[i] - '0')) > 0x7fffffff)
			break;
	}
	if (len == 0 || i < len)
		return fail(why, why_quote("bad file descriptor number '%s'",
		    s, len));
	sp->fd = (int)v;
	return 0;
}

int
zc_spec_parse(struct zc_spec *sp, const char *text, const char **why)
{
	const struct prefix *p;
	const char *colon;
	size_t i, n;

	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->family = AF_UNSPEC;
	if (why != NULL)
		*why = NULL;

	if (text[0] == '\0')
		return fail(why, "empty spec");
	if (strcmp(text, "-") == 0) {
		sp->kind = ZC_SPEC_STDIO;
		return 0;
	}

	colon = strchr(text, ':');
	if (colon != NULL) {
		n = colon - text;
		for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			p = &prefixes[i];
			if (strlen(p->name) != n || memcmp(p->name, text, n))
				continue;
			sp->kind = p->kind;
			sp->family = p->family;
			switch (p->kind) {
			case ZC_SPEC_FD:
				return parse_fd(sp, colon + 1, why);
			case ZC_SPEC_FILE:
				return parse_path(sp, colon + 1,
				    ZC_SPEC_PATH_MAX - 1, why);
			case ZC_SPEC_UNIX:
			case ZC_SPEC_UNIX_LISTEN:
				return parse_path(sp, colon + 1,
				    UNIX_PATH_MAX, why);
			case ZC_SPEC_TCP:
				return parse_hostport(sp, colon + 1, 0,
				    p->name, why);
			default:
				return parse_hostport(sp, colon + 1, 1,
				    p->name, why);
			}
		}
	}

	if (colon == NULL || strchr(text, '/') != NULL) {
		sp->kind = ZC_SPEC_PATH;
		return parse_path(sp, text, ZC_SPEC_PATH_MAX - 1, why);
	}

	/* HOST:PORT with no prefix. */
	sp->kind = ZC_SPEC_TCP;
	if (text[0] != '[' && strchr(colon + 1, ':') != NULL) {
		if (looks_like_ipv6(text, strlen(text)))
			return fail(why,
			    "IPv6 address needs brackets: [ADDR]:PORT");
		return fail(why, why_quote("unknown prefix '%s'", text,
		    colon - text));
	}
	if (parse_hostport(sp, text, 0, "", why) != 0)
		return -EINVAL;
	/* Kept so that zc_endpoint_open can prefer a file of that name. */
	if (copy(sp->path, sizeof(sp->path), text, strlen(text)) == -1)
		return fail(why, "host name too long (max 255 bytes)");
	return 0;
}

/* Returns whether text starts with a known prefix and its ':'. */
static int
has_prefix(const char *text)
{
	const char *colon = strchr(text, ':');
	size_t i, n;

	if (colon == NULL)
		return 0;
	n = colon - text;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strlen(prefixes[i].name) == n &&
		    memcmp(prefixes[i].name, text, n) == 0)
			return 1;
	return 0;
}

/* Returns whether text is an IPv4 literal, a bracketed IPv6 literal or
 * localhost, then ':' and one to five digits. */
static int
is_bare_socket(const char *text)
{
	const char *colon = strrchr(text, ':'), *p;
	char host[64];
	unsigned char addr[16];
	size_t hlen;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
		return 0;
	for (p = colon + 1; *p != '\0'; p++)
		if (!is_digit(*p))
			return 0;
	hlen = colon - text;
	if (hlen == 0 || hlen >= sizeof(host))
		return 0;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, addr) == 1;
	}
	return strcmp(host, "localhost") == 0 ||
	    inet_pton(AF_INET, host, addr) == 1;
}

int
zc_spec_parse_flags(struct zc_spec *sp, const char *text, unsigned flags,
    const char **why)
{
	size_t len;
	int r;

	if ((flags & ~(ZC_SPEC_FILES_FIRST | ZC_SPEC_HOST_FIRST)) != 0 ||
	    flags == (ZC_SPEC_FILES_FIRST | ZC_SPEC_HOST_FIRST)) {
		zc_spec_parse(sp, "-", why);
		return fail(why, "bad flags");
	}
	if (flags & ZC_SPEC_FILES_FIRST) {
		if (has_prefix(text))
			return zc_spec_parse(sp, text, why);
		if (is_bare_socket(text)) {
			/* Always a socket: no file is preferred. */
			if ((r = zc_spec_parse(sp, text, why)) == 0)
				sp->path[0] = '\0';
			return r;
		}
		zc_spec_parse(sp, "-", why);
		sp->kind = ZC_SPEC_PATH;
		if ((len = strlen(text)) >= sizeof(sp->path)) {
			if (why != NULL)
				*why = "path too long (max 4095 bytes)";
			return -ENAMETOOLONG;
		}
		memcpy(sp->path, text, len + 1);
		return 0;
	}
	if ((flags & ZC_SPEC_HOST_FIRST) && strcmp(text, "-") != 0 &&
	    strchr(text, '/') == NULL && !has_prefix(text)) {
		zc_spec_parse(sp, "-", why);
		return -ENOENT;
	}
	return zc_spec_parse(sp, text, why);
}
