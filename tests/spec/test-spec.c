/*
 * zc_spec_parse: every form of zerocopy-endpoints(7) with the fields it
 * gives, and malformed specs with the exact message for each;
 * zc_spec_parse_flags: which words are specs in each mode.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zerocopy.h"

#define U AF_UNSPEC
#define V4 AF_INET
#define V6 AF_INET6

struct good {
	const char *text;
	enum zc_spec_kind kind;
	int fd;
	int family;
	const char *path;
	const char *host;
	const char *port;
};

static const struct good goods[] = {
	{ "-", ZC_SPEC_STDIO, -1, U, "", "", "" },
	{ "fd:0", ZC_SPEC_FD, 0, U, "", "", "" },
	{ "fd:7", ZC_SPEC_FD, 7, U, "", "", "" },
	{ "fd:007", ZC_SPEC_FD, 7, U, "", "", "" },
	{ "fd:2147483647", ZC_SPEC_FD, 2147483647, U, "", "", "" },
	{ "out.txt", ZC_SPEC_PATH, -1, U, "out.txt", "", "" },
	{ "/dev/null", ZC_SPEC_PATH, -1, U, "/dev/null", "", "" },
	{ "./host:80", ZC_SPEC_PATH, -1, U, "./host:80", "", "" },
	{ "dir/a:b:c", ZC_SPEC_PATH, -1, U, "dir/a:b:c", "", "" },
	{ "fd", ZC_SPEC_PATH, -1, U, "fd", "", "" },
	{ "--", ZC_SPEC_PATH, -1, U, "--", "", "" },
	{ "[x]", ZC_SPEC_PATH, -1, U, "[x]", "", "" },
	{ "file:host:80", ZC_SPEC_FILE, -1, U, "host:80", "", "" },
	{ "file:-", ZC_SPEC_FILE, -1, U, "-", "", "" },
	{ "file:/tmp/x", ZC_SPEC_FILE, -1, U, "/tmp/x", "", "" },
	{ "unix:/run/s.sock", ZC_SPEC_UNIX, -1, U, "/run/s.sock", "", "" },
	{ "unix:rel", ZC_SPEC_UNIX, -1, U, "rel", "", "" },
	{ "unix-listen:/tmp/l", ZC_SPEC_UNIX_LISTEN, -1, U, "/tmp/l", "", "" },
	{ "localhost:80", ZC_SPEC_TCP, -1, U, "localhost:80", "localhost",
	    "80" },
	{ "127.0.0.1:8080", ZC_SPEC_TCP, -1, U, "127.0.0.1:8080",
	    "127.0.0.1", "8080" },
	{ "a_b-c.example:65535", ZC_SPEC_TCP, -1, U, "a_b-c.example:65535",
	    "a_b-c.example", "65535" },
	{ "h:1", ZC_SPEC_TCP, -1, U, "h:1", "h", "1" },
	{ "h:00443", ZC_SPEC_TCP, -1, U, "h:00443", "h", "443" },
	{ "[::1]:22", ZC_SPEC_TCP, -1, V6, "[::1]:22", "::1", "22" },
	{ "[fe80::1%eth0]:22", ZC_SPEC_TCP, -1, V6, "[fe80::1%eth0]:22",
	    "fe80::1%eth0", "22" },
	{ "[::ffff:127.0.0.1]:9", ZC_SPEC_TCP, -1, V6, "[::ffff:127.0.0.1]:9",
	    "::ffff:127.0.0.1", "9" },
	{ "tcp:host:80", ZC_SPEC_TCP, -1, U, "", "host", "80" },
	{ "tcp:[::1]:80", ZC_SPEC_TCP, -1, V6, "", "::1", "80" },
	{ "tcp4:host:80", ZC_SPEC_TCP, -1, V4, "", "host", "80" },
	{ "tcp6:host:80", ZC_SPEC_TCP, -1, V6, "", "host", "80" },
	{ "tcp6:[::1]:80", ZC_SPEC_TCP, -1, V6, "", "::1", "80" },
	{ "listen:80", ZC_SPEC_TCP_LISTEN, -1, U, "", "", "80" },
	{ "listen:0", ZC_SPEC_TCP_LISTEN, -1, U, "", "", "0" },
	{ "listen:127.0.0.1:0", ZC_SPEC_TCP_LISTEN, -1, U, "", "127.0.0.1",
	    "0" },
	{ "listen:[::]:443", ZC_SPEC_TCP_LISTEN, -1, V6, "", "::", "443" },
	{ "tcp-listen:9000", ZC_SPEC_TCP_LISTEN, -1, U, "", "", "9000" },
	{ "tcp-listen:h:9000", ZC_SPEC_TCP_LISTEN, -1, U, "", "h", "9000" },
	{ "tcp4-listen:9000", ZC_SPEC_TCP_LISTEN, -1, V4, "", "", "9000" },
	{ "tcp6-listen:9000", ZC_SPEC_TCP_LISTEN, -1, V6, "", "", "9000" },
	{ "tcp6-listen:[::1]:0", ZC_SPEC_TCP_LISTEN, -1, V6, "", "::1", "0" },
};

struct bad {
	const char *text;
	const char *why;
};

static const struct bad bads[] = {
	{ "", "empty spec" },
	{ ":", "missing host" },
	{ ":80", "missing host" },
	{ "host:", "missing port" },
	{ "host:0", "port '0' is not a number from 1 to 65535" },
	{ "host:65536", "port '65536' is not a number from 1 to 65535" },
	{ "host:99999999999999999999",
	    "port '99999999999999999999' is not a number from 1 to 65535" },
	{ "host:http", "port 'http' is not a number from 1 to 65535" },
	{ "host:-1", "port '-1' is not a number from 1 to 65535" },
	{ "host:+80", "port '+80' is not a number from 1 to 65535" },
	{ "host: 80", "port ' 80' is not a number from 1 to 65535" },
	{ "ho st:80", "bad host name 'ho st'" },
	{ "user@host:80", "bad host name 'user@host'" },
	{ "h\tx:80", "bad host name 'h\\011x'" },
	{ "\033[2J\033]0;x\007:80",
	    "bad host name '\\033[2J\\033]0;x\\007'" },
	{ "a\\b:80", "bad host name 'a\\134b'" },
	{ "caf\xc3\xa9:80", "bad host name 'caf\\303\\251'" },
	{ "\r\r\r\r\r\r\r\r\r\r\r:80",
	    "bad host name '\\015\\015\\015\\015\\015\\015\\015"
	    "\\015\\015\\015...'" },
	{ "foo:bar:baz", "unknown prefix 'foo'" },
	{ "TCP:host:80", "unknown prefix 'TCP'" },
	{ "udp:host:53", "unknown prefix 'udp'" },
	{ "::1:80", "IPv6 address needs brackets: [ADDR]:PORT" },
	{ "::1", "IPv6 address needs brackets: [ADDR]:PORT" },
	{ "fe80::1:80", "IPv6 address needs brackets: [ADDR]:PORT" },
	{ "2001:db8:0:1:80", "IPv6 address needs brackets: [ADDR]:PORT" },
	{ "tcp:::1:80", "IPv6 address needs brackets: [ADDR]:PORT" },
	{ "listen:::1:80", "IPv6 address needs brackets: [ADDR]:PORT" },
	{ "tcp:a:b:80", "bad host name 'a:b'" },
	{ "[::1]", "missing port" },
	{ "[::1]:", "missing port" },
	{ "[::1:80", "missing ']' after IPv6 address" },
	{ "[]:80", "empty IPv6 address" },
	{ "[foo]:80", "bad IPv6 address 'foo'" },
	{ "[1.2.3.4]:80", "bad IPv6 address '1.2.3.4'" },
	{ "[::1%]:80", "bad IPv6 address '::1%'" },
	{ "[::1%e/0]:80", "PATH" },
	{ "[::1]x:80", "expected ':' after ']'" },
	{ "[::1]:0", "port '0' is not a number from 1 to 65535" },
	{ "tcp4:[::1]:80", "'tcp4' cannot take an IPv6 address" },
	{ "tcp4-listen:[::]:80", "'tcp4-listen' cannot take an IPv6 address" },
	{ "fd:", "bad file descriptor number ''" },
	{ "fd:-1", "bad file descriptor number '-1'" },
	{ "fd:x", "bad file descriptor number 'x'" },
	{ "fd: 1", "bad file descriptor number ' 1'" },
	{ "fd:2147483648", "bad file descriptor number '2147483648'" },
	{ "fd:99999999999", "bad file descriptor number '99999999999'" },
	{ "fd:99999999999999999999999999",
	    "bad file descriptor number '99999999999999999999999999'" },
	{ "file:", "empty path" },
	{ "unix:", "empty path" },
	{ "unix-listen:", "empty path" },
	{ "tcp:", "missing host and port" },
	{ "tcp:host", "missing port" },
	{ "tcp::80", "missing host" },
	{ "tcp:host:0", "port '0' is not a number from 1 to 65535" },
	{ "listen:", "missing port" },
	{ "listen:x", "port 'x' is not a number from 0 to 65535" },
	{ "listen:65536", "port '65536' is not a number from 0 to 65535" },
	{ "listen::80", "missing host" },
	{ "listen:[::1]", "missing port" },
	{ "tcp-listen:h:", "missing port" },
};

static int failures;

static void
check_str(const char *text, const char *field, const char *got,
    const char *want)
{
	if (strcmp(got, want) != 0) {
		printf("FAIL '%s': %s is '%s', want '%s'\n", text, field, got,
		    want);
		failures++;
	}
}

static void
test_good(const struct good *g)
{
	struct zc_spec sp;
	const char *why = "unset";
	int r;

	r = zc_spec_parse(&sp, g->text, &why);
	if (r != 0) {
		printf("FAIL '%s': %d (%s), want 0\n", g->text, r,
		    why ? why : "(null)");
		failures++;
		return;
	}
	if (why != NULL) {
		printf("FAIL '%s': why set on success\n", g->text);
		failures++;
	}
	if (sp.kind != g->kind || sp.fd != g->fd || sp.family != g->family) {
		printf("FAIL '%s': kind %d fd %d family %d, want %d %d %d\n",
		    g->text, sp.kind, sp.fd, sp.family, g->kind, g->fd,
		    g->family);
		failures++;
	}
	check_str(g->text, "path", sp.path, g->path);
	check_str(g->text, "host", sp.host, g->host);
	check_str(g->text, "port", sp.port, g->port);
}

static void
test_bad(const struct bad *b)
{
	struct zc_spec sp;
	const char *why = NULL;
	int r;

	r = zc_spec_parse(&sp, b->text, &why);
	if (strcmp(b->why, "PATH") == 0) {
		/* A '/' makes it a path whatever else it holds. */
		if (r != 0 || sp.kind != ZC_SPEC_PATH) {
			printf("FAIL '%s': not a PATH\n", b->text);
			failures++;
		}
		return;
	}
	if (r != -EINVAL) {
		printf("FAIL '%s': %d, want -EINVAL\n", b->text, r);
		failures++;
		return;
	}
	if (why == NULL) {
		printf("FAIL '%s': why is NULL\n", b->text);
		failures++;
		return;
	}
	check_str(b->text, "why", why, b->why);
	/* NULL why is allowed. */
	if (zc_spec_parse(&sp, b->text, NULL) != -EINVAL) {
		printf("FAIL '%s': differs with why NULL\n", b->text);
		failures++;
	}
}

/* Specs longer than the struct's arrays: rejected, never overflowing. */
static void
test_long(void)
{
	static char text[3 * ZC_SPEC_PATH_MAX];
	static const struct {
		const char *prefix;
		size_t len;	/* longest accepted */
		const char *suffix;
		const char *why;
	} t[] = {
		{ "", ZC_SPEC_PATH_MAX - 1, "", "path too long (max 4095 bytes)" },
		{ "file:", ZC_SPEC_PATH_MAX - 1, "",
		    "path too long (max 4095 bytes)" },
		{ "unix:", 107, "", "unix socket path too long (max 107 bytes)" },
		{ "unix-listen:", 107, "",
		    "unix socket path too long (max 107 bytes)" },
		{ "tcp:", ZC_SPEC_HOST_MAX - 1, ":80",
		    "host name too long (max 255 bytes)" },
		{ "", ZC_SPEC_HOST_MAX - 1, ":80",
		    "host name too long (max 255 bytes)" },
		{ "listen:", ZC_SPEC_HOST_MAX - 1, ":80",
		    "host name too long (max 255 bytes)" },
	};
	struct zc_spec sp;
	const char *why;
	size_t i, n, plen;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (n = t[i].len; n <= t[i].len + 1; n++) {
			plen = strlen(t[i].prefix);
			memcpy(text, t[i].prefix, plen);
			memset(text + plen, t[i].suffix[0] ? 'h' : 'p', n);
			if (!t[i].suffix[0])
				text[plen] = '/';
			strcpy(text + plen + n, t[i].suffix);
			why = NULL;
			r = zc_spec_parse(&sp, text, &why);
			if (n == t[i].len && r != 0) {
				printf("FAIL %s%zu bytes: %s\n", t[i].prefix,
				    n, why);
				failures++;
			}
			if (n > t[i].len && (r != -EINVAL || why == NULL ||
			    strcmp(why, t[i].why) != 0)) {
				printf("FAIL %s%zu bytes: %d '%s'\n",
				    t[i].prefix, n, r, why ? why : "(null)");
				failures++;
			}
		}
	}

	/* A long quoted part is shortened in the message. */
	memset(text, 'x', 1000);
	strcpy(text + 1000, ":1:2");
	r = zc_spec_parse(&sp, text, &why);
	if (r != -EINVAL || strcmp(why, "unknown prefix "
	    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'") != 0) {
		printf("FAIL long prefix: %d '%s'\n", r, why);
		failures++;
	}
	strcpy(text, "fd:");
	memset(text + 3, '9', 2000);
	text[2003] = '\0';
	r = zc_spec_parse(&sp, text, &why);
	if (r != -EINVAL || strlen(why) > 100) {
		printf("FAIL long fd: %d '%s'\n", r, why);
		failures++;
	}
}

/* zc_spec_parse_flags: which words are specs in each mode. */
struct moded {
	const char *text;
	unsigned flags;
	int ret;		/* 0, -EINVAL, -ENOENT, -ENAMETOOLONG */
	enum zc_spec_kind kind;	/* when ret is 0 */
	const char *path;
	const char *host;
};

static const struct moded modeds[] = {
	/* GNU tee: every word is a file name unless prefixed or one of the
	 * three socket forms, which always connect (path ""). */
	{ "out", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "out", "" },
	{ "-", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "-", "" },
	{ "", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "", "" },
	{ "host:80", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "host:80", "" },
	{ "example.org:443", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH,
	    "example.org:443", "" },
	{ "a:b:c", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "a:b:c", "" },
	{ "::1:80", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "::1:80", "" },
	{ "[fe80::1%eth0]:22", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH,
	    "[fe80::1%eth0]:22", "" },
	{ "1.2.3.4:x", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "1.2.3.4:x",
	    "" },
	{ "1.2.3.4:123456", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH,
	    "1.2.3.4:123456", "" },
	{ "1.2.3:80", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "1.2.3:80", "" },
	{ "fdx:1", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_PATH, "fdx:1", "" },
	{ "127.0.0.1:80", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_TCP, "",
	    "127.0.0.1" },
	{ "[::1]:80", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_TCP, "", "::1" },
	{ "localhost:80", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_TCP, "",
	    "localhost" },
	{ "127.0.0.1:0", ZC_SPEC_FILES_FIRST, -EINVAL, 0, NULL, NULL },
	{ "127.0.0.1:99999", ZC_SPEC_FILES_FIRST, -EINVAL, 0, NULL, NULL },
	{ "fd:3", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_FD, "", "" },
	{ "fd:x", ZC_SPEC_FILES_FIRST, -EINVAL, 0, NULL, NULL },
	{ "file:-", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_FILE, "-", "" },
	{ "tcp:h:1", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_TCP, "", "h" },
	{ "unix:", ZC_SPEC_FILES_FIRST, -EINVAL, 0, NULL, NULL },
	{ "listen:9", ZC_SPEC_FILES_FIRST, 0, ZC_SPEC_TCP_LISTEN, "", "" },
	/* nc: a word without prefix, '/' or "-" is a host. */
	{ "localhost", ZC_SPEC_HOST_FIRST, -ENOENT, 0, NULL, NULL },
	{ "127.0.0.1", ZC_SPEC_HOST_FIRST, -ENOENT, 0, NULL, NULL },
	{ "::1", ZC_SPEC_HOST_FIRST, -ENOENT, 0, NULL, NULL },
	{ "h:80", ZC_SPEC_HOST_FIRST, -ENOENT, 0, NULL, NULL },
	{ "", ZC_SPEC_HOST_FIRST, -ENOENT, 0, NULL, NULL },
	{ "-", ZC_SPEC_HOST_FIRST, 0, ZC_SPEC_STDIO, "", "" },
	{ "./sock", ZC_SPEC_HOST_FIRST, 0, ZC_SPEC_PATH, "./sock", "" },
	{ "unix:s", ZC_SPEC_HOST_FIRST, 0, ZC_SPEC_UNIX, "s", "" },
	{ "listen:x", ZC_SPEC_HOST_FIRST, -EINVAL, 0, NULL, NULL },
	/* 0 is zc_spec_parse; both flags or unknown ones are refused. */
	{ "host:80", 0, 0, ZC_SPEC_TCP, "host:80", "host" },
	{ "-", 0, 0, ZC_SPEC_STDIO, "", "" },
	{ "out", ZC_SPEC_FILES_FIRST | ZC_SPEC_HOST_FIRST, -EINVAL, 0, NULL, NULL },
	{ "out", 0x4, -EINVAL, 0, NULL, NULL },
};

static void
test_moded(const struct moded *m)
{
	struct zc_spec sp;
	const char *why = "unset";
	int r;

	r = zc_spec_parse_flags(&sp, m->text, m->flags, &why);
	if (r != m->ret) {
		printf("FAIL '%s' flags %u: %d (%s), want %d\n", m->text,
		    m->flags, r, why ? why : "(null)", m->ret);
		failures++;
		return;
	}
	if ((r == 0 || r == -ENOENT) && why != NULL) {
		printf("FAIL '%s' flags %u: why '%s'\n", m->text, m->flags,
		    why);
		failures++;
	}
	if (r == -EINVAL && why == NULL) {
		printf("FAIL '%s' flags %u: no why\n", m->text, m->flags);
		failures++;
	}
	if (r != 0)
		return;
	if (sp.kind != m->kind) {
		printf("FAIL '%s' flags %u: kind %d, want %d\n", m->text,
		    m->flags, sp.kind, m->kind);
		failures++;
	}
	check_str(m->text, "path", sp.path, m->path);
	check_str(m->text, "host", sp.host, m->host);
}

/* A file name too long for path: -ENAMETOOLONG, so that the caller's
 * open(2) says so; a prefixed one is still malformed. */
static void
test_moded_long(void)
{
	static char text[ZC_SPEC_PATH_MAX + 8];
	struct zc_spec sp;
	const char *why;
	int r;

	memset(text, 'p', ZC_SPEC_PATH_MAX - 1);
	r = zc_spec_parse_flags(&sp, text, ZC_SPEC_FILES_FIRST, &why);
	if (r != 0 || sp.kind != ZC_SPEC_PATH || strcmp(sp.path, text)) {
		printf("FAIL longest file name: %d\n", r);
		failures++;
	}
	text[ZC_SPEC_PATH_MAX - 1] = 'p';
	r = zc_spec_parse_flags(&sp, text, ZC_SPEC_FILES_FIRST, &why);
	if (r != -ENAMETOOLONG) {
		printf("FAIL file name too long: %d\n", r);
		failures++;
	}
	memset(text, 'p', ZC_SPEC_PATH_MAX + 6);
	memcpy(text, "file:", 5);
	r = zc_spec_parse_flags(&sp, text, ZC_SPEC_FILES_FIRST, &why);
	if (r != -EINVAL) {
		printf("FAIL file: too long: %d\n", r);
		failures++;
	}
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
		test_good(&goods[i]);
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		test_bad(&bads[i]);
	test_long();
	for (i = 0; i < sizeof(modeds) / sizeof(modeds[0]); i++)
		test_moded(&modeds[i]);
	test_moded_long();
	printf("%zu valid, %zu malformed, %zu with flags: %d failures\n",
	    sizeof(goods) / sizeof(goods[0]), sizeof(bads) / sizeof(bads[0]),
	    sizeof(modeds) / sizeof(modeds[0]), failures);
	return failures ? 1 : 0;
}
