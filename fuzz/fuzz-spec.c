/*
 * libFuzzer target for zc_spec_parse and zc_spec_parse_flags: they must
 * never read or write out of bounds, and what they return must be
 * consistent with each other.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zerocopy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* zc_spec_parse_flags in both modes against zc_spec_parse's r and sp. */
static void
check_flags(const char *text, int r0, const struct zc_spec *sp0)
{
	static struct zc_spec sp;
	const char *why = "unset";
	int r;

	memset(&sp, 0xa5, sizeof(sp));
	r = zc_spec_parse_flags(&sp, text, ZC_SPEC_FILES_FIRST, &why);
	if (r == 0 && sp.kind == ZC_SPEC_PATH) {
		/* A file name: the word itself, whatever it holds. */
		if (why != NULL || strcmp(sp.path, text) != 0)
			abort();
	} else if (r == 0) {
		/* A spec: what zc_spec_parse says, never a preferred file. */
		if (why != NULL || r0 != 0 || sp.kind != sp0->kind ||
		    strcmp(sp.host, sp0->host) != 0 ||
		    strcmp(sp.port, sp0->port) != 0)
			abort();
		if (sp.kind == ZC_SPEC_TCP && sp.path[0] != '\0')
			abort();
	} else if (r == -ENAMETOOLONG) {
		if (strlen(text) < ZC_SPEC_PATH_MAX)
			abort();
	} else if (r != -EINVAL || r0 != -EINVAL || why == NULL)
		abort();

	memset(&sp, 0xa5, sizeof(sp));
	why = "unset";
	r = zc_spec_parse_flags(&sp, text, ZC_SPEC_HOST_FIRST, &why);
	if (r == -ENOENT) {
		/* A host: no prefix (an unprefixed kind if it parses at
		 * all), no '/', not "-". */
		if (why != NULL || strchr(text, '/') != NULL ||
		    strcmp(text, "-") == 0)
			abort();
		if (r0 == 0 && sp0->kind != ZC_SPEC_PATH &&
		    !(sp0->kind == ZC_SPEC_TCP && sp0->path[0] != '\0'))
			abort();
	} else if (r != r0 || (r == 0 && (sp.kind != sp0->kind ||
	    strcmp(sp.path, sp0->path) != 0)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zc_spec sp;
	const char *why = NULL, *p;
	char *text;
	long port;
	int r;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&sp, 0xa5, sizeof(sp));
	r = zc_spec_parse(&sp, text, &why);
	check_flags(text, r, &sp);
	if (r != 0) {
		if (r != -EINVAL || why == NULL || *why == '\0' ||
		    strlen(why) > 200)
			abort();
		/* Safe to print: quoted bytes are escaped. */
		for (p = why; *p != '\0'; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		free(text);
		return 0;
	}
	if (why != NULL)
		abort();
	if (!terminated(sp.path, sizeof(sp.path)) ||
	    !terminated(sp.host, sizeof(sp.host)) ||
	    !terminated(sp.port, sizeof(sp.port)))
		abort();
	if (sp.family != AF_UNSPEC && sp.family != AF_INET &&
	    sp.family != AF_INET6)
		abort();
	switch (sp.kind) {
	case ZC_SPEC_STDIO:
		if (strcmp(text, "-") != 0)
			abort();
		break;
	case ZC_SPEC_FD:
		if (sp.fd < 0 || strncmp(text, "fd:", 3) != 0)
			abort();
		break;
	case ZC_SPEC_PATH:
	case ZC_SPEC_FILE:
	case ZC_SPEC_UNIX:
	case ZC_SPEC_UNIX_LISTEN:
		if (sp.path[0] == '\0' || sp.host[0] != '\0' ||
		    sp.port[0] != '\0')
			abort();
		/* The path is the end of the text, unchanged. */
		if (strlen(sp.path) > strlen(text) ||
		    strcmp(text + strlen(text) - strlen(sp.path), sp.path))
			abort();
		if ((sp.kind == ZC_SPEC_UNIX ||
		    sp.kind == ZC_SPEC_UNIX_LISTEN) && strlen(sp.path) > 107)
			abort();
		break;
	case ZC_SPEC_TCP:
	case ZC_SPEC_TCP_LISTEN:
		if (!all_digits(sp.port))
			abort();
		port = strtol(sp.port, NULL, 10);
		if (port > 65535 || (port == 0 && sp.kind == ZC_SPEC_TCP))
			abort();
		if (sp.host[0] == '\0' && sp.kind == ZC_SPEC_TCP)
			abort();
		if (sp.path[0] != '\0' && strcmp(sp.path, text) != 0)
			abort();
		break;
	default:
		abort();
	}
	free(text);
	return 0;
}
