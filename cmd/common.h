/*
 * Helpers shared by zcopy, ztee and zcat-net (not part of the library).
 * Messages go through err(3)/warn(3), so the program name comes first.
 */
#ifndef ZC_COMMON_H
#define ZC_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "zerocopy.h"

/* Parses a byte count like 4096, 64k, 1M, 4G (expand_number); exits
 * with "OPT: invalid size 'TEXT'" on bad input. */
uint64_t parse_size(const char *opt, const char *text);

/* Opens the endpoint TEXT (zc_spec_parse + zc_endpoint_open); on failure
 * prints "PROG: spec 'TEXT': WHY" and exits 1. */
void open_spec(struct zc_endpoint *ep, const char *text, unsigned flags,
    int timeout_ms);

/* open_spec that warns with the same line and returns -errno instead of
 * exiting (ep->fd is then -1); 0 on success. */
int try_open_spec(struct zc_endpoint *ep, const char *text, unsigned flags,
    int timeout_ms);

/* Monotonic time in seconds, and in milliseconds. */
double now_seconds(void);
int64_t now_ms(void);

/* A live progress line on stderr, like pv: bytes, elapsed, rate, and
 * percentage and ETA when total is known (0: unknown). */
struct progress {
	double start;
	double last;
	uint64_t total;
	int shown;		/* width of the line on screen */
	int tty;		/* stderr is a terminal: redraw with \r */
};
void progress_init(struct progress *p, uint64_t total);
/* Redraws at most a few times a second, or now when final is set (then
 * ends the line). When stderr is not a terminal only the final line is
 * written. */
void progress_update(struct progress *p, uint64_t bytes, int final);

/* Prints "PROG: LABEL: N bytes in S s (RATE/s): METHOD N, ..." on stderr;
 * label may be NULL, and only methods that moved bytes are listed. */
void print_stats(const char *label, const struct zc_stats *st,
    double seconds);

#endif
