/*
 * zc-xfer [-cDgNnSs] [-b bufsize] [-l limit] [-p pipesize]: zc_transfer
 * from standard input to standard output; prints the result and the
 * stats on standard error as "result N bytes N METHOD=N ... side S".
 * -c and -s force ZC_XFER_COPY_OUT and ZC_XFER_SPLICE_TCP.
 * -S and -D put a unix socket between the real standard input (output)
 * and the transfer, relayed by a child with read/write; -N makes both
 * ends non-blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zerocopy.h"

/* Copies from to to with read/write; returns 0 or -1. */
static int
copy(int from, int to)
{
	char buf[65536];
	ssize_t n, w, off;

	while ((n = read(from, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (off = 0; off < n; off += w)
			if ((w = write(to, buf + off, (size_t)(n - off))) < 0)
				return -1;
	}
	return 0;
}

/* Replaces fd (0 or 1) with a unix socket relayed to the old one by a
 * child; returns the child's pid. */
static pid_t
relay(int fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (pid = fork()) == -1) {
		perror("zc-xfer: relay");
		exit(2);
	}
	if (pid == 0) {
		close(sv[0]);
		if (fd == 0) {
			close(1);
			_exit(copy(0, sv[1]) == -1);
		}
		close(0);
		_exit(copy(sv[1], 1) == -1);
	}
	close(sv[1]);
	dup2(sv[0], fd);
	close(sv[0]);
	return pid;
}

int
main(int argc, char **argv)
{
	struct zc_transfer_opts o = { 0 };
	struct zc_stats st;
	uint64_t limit = ZC_NO_LIMIT;
	pid_t in = 0, out = 0;
	int64_t r;
	int c, m, nonblock = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt(argc, argv, "b:cDgl:Nnp:Ss")) != -1) {
		switch (c) {
		case 'c':
			o.flags |= ZC_XFER_COPY_OUT;
			break;
		case 'D':
			out = relay(1);
			break;
		case 'b':
			o.buf_size = strtoull(optarg, NULL, 0);
			break;
		case 'g':
			o.flags |= ZC_XFER_NO_GROW;
			break;
		case 'l':
			limit = strtoull(optarg, NULL, 0);
			break;
		case 'N':
			nonblock = 1;
			break;
		case 'n':
			o.flags |= ZC_XFER_NO_SPLICE;
			break;
		case 'p':
			o.pipe_size = strtoull(optarg, NULL, 0);
			break;
		case 'S':
			in = relay(0);
			break;
		case 's':
			o.flags |= ZC_XFER_SPLICE_TCP;
			break;
		default:
			fprintf(stderr, "usage: zc-xfer [-cDgNnSs] [-b bufsize] "
			    "[-l limit] [-p pipesize]\n");
			return 2;
		}
	}
	if (nonblock) {
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
		fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
	}
	r = zc_transfer(1, 0, limit, &o, &st);
	fprintf(stderr, "result %" PRId64 " bytes %" PRIu64, r, st.bytes);
	for (m = 0; m < ZC_METHOD_COUNT; m++)
		if (st.by_method[m] > 0)
			fprintf(stderr, " %s=%" PRIu64, zc_method_name(m),
			    st.by_method[m]);
	fprintf(stderr, " side %d\n", (int)st.err_side);
	if (r < 0)
		fprintf(stderr, "zc-xfer: %s\n", zc_strerror((int)r));
	close(0);
	close(1);
	if (in > 0)
		waitpid(in, NULL, 0);
	if (out > 0)
		waitpid(out, NULL, 0);
	return r < 0;
}
