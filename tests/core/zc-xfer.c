/*
 * zc-xfer [-gn] [-b bufsize] [-l limit] [-p pipesize]: zc_transfer from
 * standard input to standard output; prints the result and the stats
 * on standard error as "result N bytes N METHOD=N ... side S".
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "zerocopy.h"

int
main(int argc, char **argv)
{
	struct zc_transfer_opts o = { 0 };
	struct zc_stats st;
	uint64_t limit = ZC_NO_LIMIT;
	int64_t r;
	int c, m;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt(argc, argv, "b:gl:np:")) != -1) {
		switch (c) {
		case 'b':
			o.buf_size = strtoull(optarg, NULL, 0);
			break;
		case 'g':
			o.flags |= ZC_XFER_NO_GROW;
			break;
		case 'l':
			limit = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			o.flags |= ZC_XFER_NO_SPLICE;
			break;
		case 'p':
			o.pipe_size = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: zc-xfer [-gn] [-b bufsize] "
			    "[-l limit] [-p pipesize]\n");
			return 2;
		}
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
	return r < 0;
}
