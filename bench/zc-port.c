/*
 * zc-port: prints COUNT distinct TCP ports on 127.0.0.1 that were free
 * a moment ago, one a line (the kernel picks them; all are held at once
 * so they differ).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

int
main(int argc, char *argv[])
{
	int fds[64];
	int i, n = 1;

	if (argc > 2 || (argc == 2 && ((n = atoi(argv[1])) < 1 || n > 64))) {
		fprintf(stderr, "usage: zc-port [count]\n");
		return 1;
	}
	for (i = 0; i < n; i++)
		fds[i] = net_listen("127.0.0.1:0");
	for (i = 0; i < n; i++)
		printf("%d\n", net_port(fds[i]));
	return fflush(stdout) == EOF;
}
