/*
 * Helpers shared by zcopy, ztee and zcat-net (not part of the library).
 * Messages go through err(3)/warn(3), so the program name comes first,
 * and every text they quote (specs, file names, peer addresses, option
 * arguments) goes through esc().
 */
#ifndef ZC_COMMON_H
#define ZC_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "zerocopy.h"

/* Puts /dev/null opened with O_PATH on each of descriptors 0, 1 and 2
 * that is closed, so that nothing opened later takes its place and a read
 * or write on it fails with EBADF; the first call in main. Exits 1 if
 * /dev/null cannot be opened. */
void stdio_guard(void);

/* Ends a subscriber or client socket that has its last byte: shuts its
 * writing side and reads (without waiting) what it sent, so that the
 * close that follows sends no reset that could cost it the tail. */
void sock_end(int fd);

/* Returns whether fd (0, 1 or 2) was closed when stdio_guard ran. */
int stdio_closed(int fd);

/* Returns text as messages quote it: each byte that is not printable
 * ASCII, and the backslash, as a backslash and three octal digits
 * (strvisx(3) with VIS_OCTAL | VIS_TAB | VIS_NL | VIS_NOLOCALE); text
 * past ZC_SPEC_PATH_MAX bytes is cut and "..." added. The result is a
 * static buffer that the fourth call after this one reuses. */
const char *esc(const char *text);

/* esc for the len bytes at s, into buf (size bytes): as much of s as fits,
 * cut between escapes and followed by "..." when it does not all fit. */
void esc_buf(char *buf, size_t size, const char *s, size_t len);

/* Returns text quoted as GNU coreutils quotes file names in messages
 * in the C locale (its "shell-escape" style): as it is when every byte
 * is a letter, a digit or one of %+,-./@]_{} (and # or ~ past the first
 * byte); in double quotes when it holds a ' and only letters, digits
 * and space %'+,-./:@]_ (and # or ~ as the first byte); else in single quotes, each ' written '\'',
 * and each byte below 0x20 or from 0x7f as $'\n' ($'\a' $'\b' $'\t'
 * $'\v' $'\f' $'\r') or $'\ooo' between the quoted parts, and '' put
 * first when a word with a ' ends with such a byte; "" is ''.
 * The result is text itself or a buffer that the fourth call after
 * this one frees. */
const char *shquote(const char *text);

/* Parses a size as coreutils' head -c and dd do: decimal digits (010
 * is ten), then nothing (bytes), b (512), or K M G T P E (k and m in
 * either case) alone or followed by iB for powers of 1024 (KiB, ...),
 * or by B or D for powers of 1000 (kB, KB, KD, MB, ...). Nothing may
 * follow, no sign or space may come before. Returns 0, -EINVAL or
 * -ERANGE (more than 2^64 - 1). */
int size_parse(const char *text, uint64_t *n);

/* size_parse that exits 1 on error with "PROG: invalid WHAT: 'TEXT'"
 * (TEXT through esc), followed by ": Value too large for defined data
 * type" when it overflows, as GNU head words it. */
uint64_t parse_size(const char *what, const char *text);

/* Exits with status once standard output is flushed and closed; when
 * that fails (--help >/dev/full), prints "PROG: write error: REASON" as
 * GNU programs do and exits 1 instead. */
void stdout_exit(int status) __attribute__((noreturn));

/* Parses -L's bytes a second (parse_size's grammar, at least 1); exits
 * with "rate: invalid size 'TEXT'" on bad input. */
uint64_t parse_rate(const char *text);

/* Opens the endpoint TEXT (zc_spec_parse + zc_endpoint_open); on failure
 * prints "PROG: spec 'TEXT': WHY" and exits 1. Standard input or output
 * named by "-" that was closed at start (stdio_closed) is reported as
 * "PROG: standard input: Bad file descriptor" (or output), fd:0 to fd:2
 * as "PROG: spec 'fd:N': Bad file descriptor". */
void open_spec(struct zc_endpoint *ep, const char *text, unsigned flags,
    int timeout_ms);

/* open_spec that warns with the same line and returns -errno instead of
 * exiting (ep->fd is then -1); 0 on success. */
int try_open_spec(struct zc_endpoint *ep, const char *text, unsigned flags,
    int timeout_ms);

/* Monotonic time in seconds, and in milliseconds. */
double now_seconds(void);
int64_t now_ms(void);

/* A live progress line on stderr, like pv's: for one stream
 * "SIZE ELAPSED [RATE/s] [BAR] PCT% ETA H:MM:SS" (the bar a moving <=>
 * and no percentage when the size is unknown); for two (zcat-net's
 * directions) "ELAPSED LABEL SIZE [RATE/s] [BAR] ...  LABEL ...". The
 * rate is that of the last interval, the average on the final line. */
#define PROGRESS_LANES 2
#define PROGRESS_TICK_MS 100	/* how often the programs offer a redraw */
#define PROGRESS_NONE UINT64_MAX	/* progress_init: add no lane */
struct progress_lane {
	const char *label;	/* NULL: the only lane */
	uint64_t total;		/* 0: unknown */
	uint64_t bytes;
	uint64_t last_bytes;	/* at the last redraw */
};
struct progress {
	double start;
	double last;		/* the last redraw */
	double due;		/* the next one */
	int shown;		/* width of the line on screen */
	int tty;		/* stderr is a terminal: redraw with \r */
	int frame;		/* redraws so far: moves the marker */
	int nlanes;
	struct progress_lane lane[PROGRESS_LANES];
};
/* Starts the clock with one unlabelled lane of total bytes (0: unknown),
 * or none with PROGRESS_NONE. */
void progress_init(struct progress *p, uint64_t total);
/* Adds a lane; returns its index, or -1 when there are PROGRESS_LANES. */
int progress_lane(struct progress *p, const char *label, uint64_t total);
/* Sets the bytes of a lane. */
void progress_set(struct progress *p, int lane, uint64_t bytes);
/* Redraws every half second (when called often enough), or now
 * when final is set (then ends the line). When stderr is not a terminal
 * only the final line is written. */
void progress_draw(struct progress *p, int final);
/* progress_set of lane 0, then progress_draw. */
void progress_update(struct progress *p, uint64_t bytes, int final);

/* Writes n bytes with three significant digits and a binary unit into
 * buf: "999B", "0.98KiB", "1.17GiB", "23.4MiB", "512KiB". */
void size_text(char *buf, size_t len, double n);

/* Prints "PROG: LABEL: N bytes in S s (RATE/s): METHOD N, ..." on stderr;
 * label (shown through esc) may be NULL, and only methods that moved bytes are listed. */
void print_stats(const char *label, const struct zc_stats *st,
    double seconds);

#endif
