/*
 * flow-relay [-cns] [-k count] PORTFILE PORT: accepts a TCP connection
 * on 127.0.0.1 (its port goes to PORTFILE), connects to 127.0.0.1:PORT
 * and runs one flow from the first to the second until the end of
 * input; then prints the flow's method counts on standard output as
 * "src M=N ... sink M=N ..." (every method, zeros too). With -k, count
 * connections one after another, each flow in the same loop as the one
 * before. -c, -n and -s force ZC_FLOW_COPY_OUT, ZC_FLOW_NO_SPLICE and
 * ZC_FLOW_SPLICE_TCP; the default is the measured choice. Exit 0, or 1
 * on any failure.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zerocopy.h"

static int result;

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	(void)f;
	(void)arg;
	result = err;
}

static void
print(const char *side, const struct zc_stats *st)
{
	int m;

	printf("%s", side);
	for (m = 0; m < ZC_METHOD_COUNT; m++)
		printf(" %s=%" PRIu64, zc_method_name(m), st->by_method[m]);
}

int
main(int argc, char **argv)
{
	struct zc_flow_opts o = { .on_done = on_done };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct zc_stats st;
	struct zc_loop *loop;
	struct zc_flow *f;
	FILE *pf;
	int c, i, lfd, a, b, port, count = 1;

	while ((c = getopt(argc, argv, "ck:ns")) != -1) {
		switch (c) {
		case 'c':
			o.flags |= ZC_FLOW_COPY_OUT;
			break;
		case 'k':
			count = atoi(optarg);
			break;
		case 'n':
			o.flags |= ZC_FLOW_NO_SPLICE;
			break;
		case 's':
			o.flags |= ZC_FLOW_SPLICE_TCP;
			break;
		default:
			fprintf(stderr, "usage: flow-relay [-cns] [-k count] "
			    "portfile port\n");
			return 1;
		}
	}
	if (argc - optind != 2)
		return 1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1 ||
	    (pf = fopen(argv[optind], "w")) == NULL) {
		perror("flow-relay: listen");
		return 1;
	}
	fprintf(pf, "%d\n", ntohs(sin.sin_port));
	fclose(pf);
	if ((loop = zc_loop_new()) == NULL)
		return 1;
	port = atoi(argv[optind + 1]);
	for (i = 0; i < count && result == 0; i++) {
		if ((a = accept(lfd, NULL, NULL)) == -1) {
			perror("flow-relay: accept");
			return 1;
		}
		sin.sin_port = htons(port);
		if ((b = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(b, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			perror("flow-relay: connect");
			return 1;
		}
		result = 1;
		if ((f = zc_flow_new(loop, a, &o)) == NULL ||
		    zc_flow_add_sink(f, b) != 0 ||
		    zc_loop_run(loop, 60000) != 0) {
			fprintf(stderr, "flow-relay: the flow did not run\n");
			return 1;
		}
		zc_flow_stats(f, &st);
		print("src", &st);
		zc_flow_sink_stats(f, 0, &st);
		print(" sink", &st);
		printf("\n");
		fflush(stdout);
		zc_flow_free(f);
		close(a);
		close(b);
	}
	zc_loop_free(loop);
	close(lfd);
	if (result != 0)
		fprintf(stderr, "flow-relay: %s\n", zc_strerror(result));
	return result != 0;
}
