/*
 * zcopy: copy one stream to another (files, pipes, sockets) by the
 * fastest method that works.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

enum {
	OPT_HELP = CHAR_MAX + 1,
	OPT_NO_SPLICE,
	OPT_VERSION
};

static const struct option longopts[] = {
	{ "append",	no_argument,		NULL,	'a' },
	{ "count",	required_argument,	NULL,	'n' },
	{ "help",	no_argument,		NULL,	OPT_HELP },
	{ "rate-limit",	required_argument,	NULL,	'L' },
	{ "no-splice",	no_argument,		NULL,	OPT_NO_SPLICE },
	{ "progress",	no_argument,		NULL,	'P' },
	{ "stats",	no_argument,		NULL,	'v' },
	{ "timeout",	required_argument,	NULL,	'w' },
	{ "version",	no_argument,		NULL,	OPT_VERSION },
	{ NULL,		0,			NULL,	0 }
};

static const char synopsis[] =
    "usage: %s [-aPv] [-L rate] [-n count] [-w seconds] [--no-splice]"
    " [src [dst]]\n";

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, synopsis, getprogname());
	fprintf(stderr, "Try '%s --help' for more information.\n",
	    getprogname());
	exit(1);
}

static void __attribute__((noreturn))
help(void)
{
	printf(synopsis, getprogname());
	printf("Copy SRC to DST (default: standard input to standard output)"
	    " with splice,\ncopy_file_range or sendfile, falling back to"
	    " read/write.\n\n"
	    "  -a, --append         append to an output file instead of"
	    " truncating it\n"
	    "  -L, --rate-limit=RATE  read at most RATE bytes a second"
	    " (sizes as for -n),\n"
	    "                       still by splice\n"
	    "  -n, --count=BYTES    copy at most BYTES: a decimal number, then\n"
	    "                       K, M, G, T, P, E (powers of 1024, also KiB...),\n"
	    "                       kB, MB, GB... (powers of 1000) or b (512)\n"
	    "  -P, --progress       show a progress line on standard error"
	    " (pv's)\n"
	    "  -v, --stats          print bytes, methods, time and rate at"
	    " the end\n"
	    "  -w, --timeout=SECS   give up connecting or accepting after"
	    " SECS\n"
	    "      --no-splice      use read and write only\n"
	    "      --help           display this help and exit\n"
	    "      --version        output version information and exit\n\n"
	    "SRC and DST are endpoint specs: -, fd:N, PATH, file:PATH,"
	    " HOST:PORT,\n[V6ADDR]:PORT, tcp:HOST:PORT, unix:PATH,"
	    " listen:[HOST:]PORT, unix-listen:PATH\n"
	    "(see zerocopy-endpoints(7)).\n");
	stdout_exit(0);
}

/* Returns whether the endpoint spec text names the regular file st. */
static int
spec_is_file(const char *text, const struct stat *st)
{
	struct zc_spec sp;
	struct stat dst;

	if (zc_spec_parse(&sp, text, NULL) < 0 ||
	    (sp.kind != ZC_SPEC_PATH && sp.kind != ZC_SPEC_FILE))
		return 0;
	return stat(sp.path, &dst) == 0 && dst.st_dev == st->st_dev &&
	    dst.st_ino == st->st_ino;
}

/* Returns whether writing to fd would overwrite or grow the regular file
 * st that is being read. */
static int
fd_is_file(int fd, const struct stat *st)
{
	struct stat dst;
	int fl;

	if (fstat(fd, &dst) == -1 || dst.st_dev != st->st_dev ||
	    dst.st_ino != st->st_ino)
		return 0;
	fl = fcntl(fd, F_GETFL);
	return (fl != -1 && (fl & O_APPEND)) ||
	    lseek(fd, 0, SEEK_CUR) < st->st_size;
}

/* Returns how many bytes are expected: what is left in a regular file,
 * capped by limit, else the limit; 0 if unknown. */
static uint64_t
expected_size(const struct zc_endpoint *src, uint64_t limit)
{
	struct stat st;
	off_t off;

	if (src->kind != ZC_KIND_FILE || fstat(src->fd, &st) == -1 ||
	    (off = lseek(src->fd, 0, SEEK_CUR)) == -1)
		return limit == ZC_NO_LIMIT ? 0 : limit;
	if (off >= st.st_size)
		return 0;
	return (uint64_t)(st.st_size - off) < limit ?
	    (uint64_t)(st.st_size - off) : limit;
}

/* Reports a read or write error: "zcopy: write error: WHY" for standard
 * input and output, "zcopy: write error on 'SPEC': WHY" otherwise. */
static void
side_error(const char *what, const char *spec, int err)
{
	if (strcmp(spec, "-") == 0)
		warnx("%s error: %s", what, zc_strerror(err));
	else
		warnx("%s error on '%s': %s", what, esc(spec),
		    zc_strerror(err));
}

static void
on_progress(void *arg, const struct zc_stats *st)
{
	progress_update(arg, st->bytes, 0);
}

int
main(int argc, char *argv[])
{
	struct zc_transfer_opts opts = { 0 };
	struct zc_endpoint src, dst;
	struct zc_stats st = { 0 };
	struct progress prog;
	struct stat sst;
	const char *srcname = "-", *dstname = "-", *errstr;
	uint64_t limit = ZC_NO_LIMIT;
	unsigned oflags = ZC_OPEN_WRITE;
	int aflag = 0, ch, Pflag = 0, rval = 0, samefile, timeout_ms = -1,
	    vflag = 0;
	double start;
	int64_t n;

	stdio_guard();
	while ((ch = getopt_long(argc, argv, "aL:n:Pvw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			aflag = 1;
			break;
		case 'L':
			opts.rate = parse_rate(optarg);
			opts.flags |= ZC_XFER_RATE;
			break;
		case 'n':
			limit = parse_size("number of bytes", optarg);
			break;
		case 'P':
			Pflag = 1;
			break;
		case 'v':
			vflag = 1;
			break;
		case 'w':
			timeout_ms = strtonum(optarg, 1, INT_MAX / 1000,
			    &errstr) * 1000;
			if (errstr != NULL)
				errx(1, "timeout '%s': %s", esc(optarg),
				    errstr);
			break;
		case OPT_HELP:
			help();
		case OPT_NO_SPLICE:
			opts.flags |= ZC_XFER_NO_SPLICE;
			break;
		case OPT_VERSION:
			printf("%s (zerocopy) %s\n", getprogname(), ZC_VERSION);
			stdout_exit(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 2)
		usage();
	if (argc > 0)
		srcname = argv[0];
	if (argc > 1)
		dstname = argv[1];

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	if (aflag)
		oflags |= ZC_OPEN_APPEND;

	open_spec(&src, srcname, ZC_OPEN_READ, timeout_ms);
	samefile = src.kind == ZC_KIND_FILE && fstat(src.fd, &sst) == 0;
	if (samefile && spec_is_file(dstname, &sst))
		errx(1, "spec '%s': input file is output file",
		    esc(dstname));
	open_spec(&dst, dstname, oflags, timeout_ms);
	if (samefile && fd_is_file(dst.fd, &sst))
		errx(1, "spec '%s': input file is output file",
		    esc(dstname));

	if (Pflag) {
		progress_init(&prog, expected_size(&src, limit));
		opts.progress = on_progress;
		opts.arg = &prog;
		/* Redraws while nothing moves; only a terminal sees them. */
		if (prog.tty) {
			opts.tick_ms = PROGRESS_TICK_MS;
			opts.flags |= ZC_XFER_TICK;
		}
	}
	start = now_seconds();
	n = zc_transfer(dst.fd, src.fd, limit, &opts, &st);
	if (Pflag)
		progress_update(&prog, st.bytes, 1);
	if (n < 0) {
		if (st.err_side == ZC_SIDE_DST)
			side_error("write", dstname, n);
		else if (st.err_side == ZC_SIDE_SRC)
			side_error("read", srcname, n);
		else
			warnx("%s", zc_strerror(n));
		rval = 1;
	}
	if (vflag)
		print_stats(NULL, &st, now_seconds() - start);

	zc_endpoint_close(&src);
	if (close(dst.fd) == -1 && rval == 0) {
		side_error("write", dstname, -errno);
		rval = 1;
	}
	return rval;
}
