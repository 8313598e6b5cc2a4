/*
 * zc-source: writes BYTES bytes of a fixed pattern to standard output
 * (or to a socket with -t). Into a pipe it vmsplices the same pages over
 * and over, so that the source costs next to nothing; into a socket or
 * file it writes 1 MiB at a time (on loopback that beat vmsplice+splice
 * and sendfile from a memfd in both time and CPU); -c writes CHUNK-sized
 * pieces whatever the output is. -S splices instead: into a pipe it
 * vmsplices (CHUNK bytes a call with -c), into anything else it
 * vmsplices into a pipe of its own and splices that into the output,
 * as a sender using sendfile or splice does. The output pipe is resized
 * only with -p.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* The pattern: never freed, since pipe readers may still hold its pages
 * after we exit (file scope keeps it reachable for leak checkers). */
static unsigned char *pattern;

static void
usage(void)
{
	fprintf(stderr, "usage: zc-source [-S] [-c chunk] [-p pipesize] "
	    "[-s stampfile] [-t host:port | -t unix:path] bytes\n");
	exit(1);
}

/* Bytes vmspliced into the pipe wfd from the pattern at stream offset
 * pos (at most n; without chunk, at most up to the pattern's end), or -1
 * with errno set; with chunk, buf holds chunk bytes past PATTERN_LEN. */
static ssize_t
gift(int wfd, const unsigned char *buf, uint64_t pos, uint64_t n,
    size_t chunk)
{
	struct iovec iov;
	size_t off = pos % PATTERN_LEN;

	iov.iov_base = (void *)(buf + off);
	iov.iov_len = chunk ? chunk : PATTERN_LEN - off;
	if (iov.iov_len > n)
		iov.iov_len = n;
	return vmsplice(wfd, &iov, 1, 0);
}

/* Writes total bytes in write(2) calls of chunk bytes; buf holds at
 * least chunk bytes past PATTERN_LEN. */
static void
send_write(int fd, const unsigned char *buf, uint64_t total, size_t chunk)
{
	uint64_t pos = 0;
	size_t n;
	ssize_t r;

	while (pos < total) {
		n = total - pos < chunk ? total - pos : chunk;
		if ((r = write(fd, buf + pos % PATTERN_LEN, n)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "write");
		}
		pos += r;
	}
}

/* Sends total bytes to a pipe by vmsplice; with chunk, in pieces of
 * chunk bytes (a short call is followed by the rest of its piece). */
static void
send_pipe(int fd, const unsigned char *buf, uint64_t total, size_t chunk)
{
	uint64_t pos = 0, end;
	ssize_t r;

	while (pos < total) {
		end = chunk ? pos - pos % chunk + chunk : total;
		if (end > total)
			end = total;
		if ((r = gift(fd, buf, pos, end - pos, chunk ? end - pos : 0)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			err(1, "vmsplice");
		}
		pos += r;
	}
}

/* Sends total bytes to fd by vmsplice into a pipe of psz bytes (chunk
 * bytes a call with chunk) and splice from it into fd. */
static void
send_splice(int fd, const unsigned char *buf, uint64_t total, size_t chunk,
    size_t psz)
{
	uint64_t pos = 0;
	ssize_t r, w;
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		err(1, "pipe");
	pipe_size(p[1], psz);
	while (pos < total) {
		r = gift(p[1], buf, pos, total - pos, chunk);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			err(1, "vmsplice");
		}
		pos += r;
		while (r > 0) {
			w = splice(p[0], NULL, fd, NULL, r,
			    SPLICE_F_MOVE | (pos < total ? SPLICE_F_MORE : 0));
			if (w == -1) {
				if (errno == EINTR)
					continue;
				err(1, "splice");
			}
			r -= w;
		}
	}
	close(p[0]);
	close(p[1]);
}

int
main(int argc, char *argv[])
{
	struct stat st;
	const char *stamp = NULL, *target = NULL;
	uint64_t total;
	size_t chunk = 0, psz = 0;
	FILE *fp;
	int ch, fd = STDOUT_FILENO, spl = 0;

	die_with_parent();
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "Sc:p:s:t:")) != -1) {
		switch (ch) {
		case 'S':
			spl = 1;
			break;
		case 'c':
			chunk = size_arg("-c", optarg);
			if (chunk == 0 || chunk > 64 * 1024 * 1024)
				errx(1, "-c: chunk out of range");
			break;
		case 'p':
			psz = size_arg("-p", optarg);
			break;
		case 's':
			stamp = optarg;
			break;
		case 't':
			target = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	total = size_arg("bytes", argv[0]);

	pattern = pattern_buf(chunk > PATTERN_LEN ? chunk : PATTERN_LEN);
	if (target != NULL)
		fd = net_connect(target, 10000);
	if (fstat(fd, &st) == -1)
		err(1, "fstat");
	if (S_ISFIFO(st.st_mode) && psz)
		pipe_size(fd, psz);
	if (stamp != NULL) {
		if ((fp = fopen(stamp, "w")) == NULL)
			err(1, "%s", stamp);
		fprintf(fp, "%llu\n", (unsigned long long)mono_ns());
		if (fclose(fp) == EOF)
			err(1, "%s", stamp);
	}

	if (spl && S_ISFIFO(st.st_mode))
		send_pipe(fd, pattern, total, chunk);
	else if (spl)
		send_splice(fd, pattern, total, chunk, psz ? psz : PATTERN_LEN);
	else if (chunk)
		send_write(fd, pattern, total, chunk);
	else if (S_ISFIFO(st.st_mode))
		send_pipe(fd, pattern, total, 0);
	else
		send_write(fd, pattern, total, PATTERN_LEN);
	if (target != NULL && shutdown(fd, SHUT_WR) == -1)
		err(1, "shutdown");
	if (close(fd) == -1)
		err(1, "close");
	return 0;
}
