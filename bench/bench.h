/*
 * Shared bits of the benchmark helpers (zc-source, zc-sink, zc-time,
 * zc-port, zc-idle, zc-rr). They use raw system calls only, never libzerocopy, so that
 * they measure the programs and not themselves.
 */
#ifndef ZC_BENCH_H
#define ZC_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* The data pattern repeats every PATTERN_LEN bytes of the stream. */
#define PATTERN_LEN (1024 * 1024)

/* A page-aligned buffer of PATTERN_LEN + extra bytes holding the pattern
 * from stream offset 0 on; exits on failure. */
unsigned char *pattern_buf(size_t extra);

/* The pattern byte at stream offset off. */
unsigned char pattern_at(uint64_t off);

/* A byte count like 4096, 64k, 1M, 4G; exits with a message if bad. */
uint64_t size_arg(const char *opt, const char *text);

/* CLOCK_MONOTONIC in nanoseconds (the same clock in every process). */
uint64_t mono_ns(void);

/* Sets the pipe behind fd to size bytes; warns when it cannot. */
void pipe_size(int fd, size_t size);

/* A connected stream socket for "HOST:PORT" or "unix:PATH", retrying
 * refused connections for up to timeout_ms (the listener may still be
 * starting); exits on failure. */
int net_connect(const char *spec, int timeout_ms);

/* A listening socket for "HOST:PORT" (PORT 0: any free port) or
 * "unix:PATH"; exits on failure. */
int net_listen(const char *spec);

/* The TCP port lfd is bound to, or 0 for a unix socket. */
int net_port(int lfd);

/* Writes text to path through a temporary file and rename(2), so that
 * a reader waiting for path never sees it half written; exits on
 * failure. */
void publish_file(const char *path, const char *text);

/* Makes the process get SIGTERM when the script that started it dies. */
void die_with_parent(void);

#endif
