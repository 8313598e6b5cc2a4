/*
 * zc-idle: opens COUNT connections to HOST:PORT or unix:PATH, one after
 * the other, and holds them open without a byte sent until it gets
 * SIGTERM or its standard input ends: the idle clients of a relay.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

int
main(int argc, char *argv[])
{
	const char *errstr;
	char c;
	int i, n;

	die_with_parent();
	if (argc != 3) {
		fprintf(stderr, "usage: zc-idle count host:port | "
		    "zc-idle count unix:path\n");
		return 1;
	}
	n = strtonum(argv[1], 0, 4096, &errstr);
	if (errstr != NULL)
		errx(1, "count %s: %s", errstr, argv[1]);
	for (i = 0; i < n; i++)
		(void)net_connect(argv[2], 10000);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	return 0;
}
