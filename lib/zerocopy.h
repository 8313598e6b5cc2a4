/*
 * libzerocopy: move bytes between file descriptors without copying them
 * through user space (splice, tee, copy_file_range, sendfile), with a
 * transparent read/write fallback.
 *
 * Conventions: every call returns a count or 0 on success and a negative
 * errno value on failure; the library never prints, never exits, never
 * changes signal dispositions, and opens every descriptor with O_CLOEXEC.
 * Descriptors handed in by the caller stay the caller's: the library does
 * not close them unless a flag says so.
 */
#ifndef ZEROCOPY_H
#define ZEROCOPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZC_VERSION "0.3.0"

/* The library's version string, "MAJOR.MINOR.PATCH". */
const char *zc_version(void);

/* A description of a negative return value: strerror for -errno values,
 * the resolver's text for the -ZC_EAI_BASE range. Never NULL. */
const char *zc_strerror(int err);

/* Resolver failures (getaddrinfo EAI_* codes) come back as
 * -(ZC_EAI_BASE - eai), so every EAI_* code maps below -ZC_EAI_BASE. */
#define ZC_EAI_BASE 100000

/* A lossy sink of a flow (zc_sink_opts.max_lag) fell further behind the
 * stream than it may: on_sink_error gets -ZC_ELAG, which is no errno
 * value; zc_strerror describes it (since 0.3). */
#define ZC_ELAG 99000

/* ------------------------------------------------------------------ */
/* Pipes                                                              */
/* ------------------------------------------------------------------ */

/*
 * A pipe the caller owns. rfd/wfd are the two ends; size is the capacity
 * the kernel reports; len is how many bytes the zc_pipe_* calls have put
 * into it and not yet taken out (the library's exact byte accounting).
 * A foreign pipe (say standard input) may be wrapped by filling in rfd or
 * wfd with the other end -1; its len is then unknown and kept at 0.
 */
struct zc_pipe {
	int rfd;
	int wfd;
	size_t size;
	size_t len;
};

#define ZC_PIPE_NONBLOCK 0x1u	/* both ends O_NONBLOCK */

/* Creates a pipe (O_CLOEXEC, and O_NONBLOCK with ZC_PIPE_NONBLOCK).
 * Returns 0 or -errno. */
int zc_pipe_open(struct zc_pipe *p, unsigned flags);

/* Closes both ends that are >= 0 and sets them to -1. */
void zc_pipe_close(struct zc_pipe *p);

/* The largest size an unprivileged pipe may be given
 * (/proc/sys/fs/pipe-max-size; 1 MiB when it cannot be read). */
size_t zc_pipe_max_size(void);

/* The capacity of the pipe behind fd in bytes, or -errno
 * (-EBADF, -EINVAL when fd is not a pipe). */
ssize_t zc_pipe_fd_size(int fd);

/* Asks for a capacity of size bytes (0: the largest allowed), clamped to
 * zc_pipe_max_size(). EPERM and EBUSY from the kernel are not errors: the
 * call then tries smaller sizes down to the current one. Returns the
 * capacity really in force afterwards, or -errno when fd is not a pipe. */
ssize_t zc_pipe_fd_resize(int fd, size_t size);

/* zc_pipe_fd_resize on p, keeping p->size up to date. */
ssize_t zc_pipe_resize(struct zc_pipe *p, size_t size);

/* ------------------------------------------------------------------ */
/* Moving bytes (primitives)                                          */
/* ------------------------------------------------------------------ */

/*
 * The movers retry EINTR and go on after short counts while that cannot
 * block or duplicate: zc_pipe_drain until max bytes have moved or the
 * next call would block; zc_pipe_fill stops after a short count (a second
 * splice from a blocking socket could wait with bytes already in p);
 * zc_pipe_tee makes exactly one successful tee(2), since tee copies from
 * the head of src and a second call would repeat bytes. They return the
 * number of bytes moved (> 0), 0 at end of input (nothing moved),
 * -EAGAIN when nothing could move without blocking, or -errno. An error after some bytes have
 * moved returns the count; the error comes back from the next call.
 *
 * With ZC_MOVE_WAIT they wait instead of returning -EAGAIN, with
 * zc_wait() on every side that can be the cause, and return only at max,
 * end of input or error. They never wait on a full pipe of their own:
 * zc_pipe_fill returns what it moved once p holds anything and the next
 * splice would block, since only the caller can empty p.
 *
 * They use splice(2) and tee(2) only and do not fall back: -EINVAL,
 * -ENOSYS, -EOPNOTSUPP tell the caller to use another method
 * (zc_transfer and the flows do that by themselves).
 */
#define ZC_MOVE_WAIT 0x1u	/* wait (poll) rather than return -EAGAIN */
#define ZC_MOVE_MORE 0x2u	/* more data follows (SPLICE_F_MORE) */

/* Splices up to max bytes from fd into p (p->len grows). */
ssize_t zc_pipe_fill(struct zc_pipe *p, int fd, size_t max, unsigned flags);

/* Splices up to max bytes from p into fd (p->len shrinks). */
ssize_t zc_pipe_drain(struct zc_pipe *p, int fd, size_t max, unsigned flags);

/* Duplicates up to max bytes from the head of src into dst with tee(2),
 * without consuming src (dst->len grows, src->len does not change). */
ssize_t zc_pipe_tee(struct zc_pipe *dst, const struct zc_pipe *src,
    size_t max, unsigned flags);

/* Waits until rfd is readable and wfd is writable (either may be -1),
 * polling both at once and each only until it is ready; hang-up and
 * error count as ready. timeout_ms < 0 waits for ever. Returns 0,
 * -ETIMEDOUT, or -errno. */
int zc_wait(int rfd, int wfd, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Whole transfers                                                    */
/* ------------------------------------------------------------------ */

enum zc_method {
	ZC_METHOD_COPY_FILE_RANGE,
	ZC_METHOD_SENDFILE,
	ZC_METHOD_SPLICE,	/* one side is a pipe: spliced directly */
	ZC_METHOD_SPLICE_PIPE,	/* through a pipe the library owns */
	ZC_METHOD_READ_WRITE,
	ZC_METHOD_COUNT
};

/* "copy_file_range", "sendfile", "splice", "splice-pipe", "read-write". */
const char *zc_method_name(enum zc_method m);

enum zc_side {
	ZC_SIDE_NONE,
	ZC_SIDE_SRC,		/* the error came from reading */
	ZC_SIDE_DST		/* the error came from writing */
};

struct zc_stats {
	uint64_t bytes;				/* delivered to the sink */
	uint64_t by_method[ZC_METHOD_COUNT];	/* sums to bytes */
	enum zc_side err_side;			/* where the last error was */
};

#define ZC_NO_LIMIT UINT64_MAX

#define ZC_XFER_NO_SPLICE 0x1u	/* read/write only */
#define ZC_XFER_NO_GROW 0x2u	/* leave the caller's pipes' sizes alone */
#define ZC_XFER_SPLICE_TCP 0x4u	/* into sockets from a pipe or socket: splice
				   (default: measured, see zc_transfer(3)) */
#define ZC_XFER_COPY_OUT 0x8u	/* into sockets from a pipe or socket: splice
				   in, read the pipe, write (default: measured) */
#define ZC_XFER_RATE 0x100u	/* the rate field is set (since 0.2) */
#define ZC_XFER_TICK 0x200u	/* the tick_ms field is set (since 0.2) */

struct zc_transfer_opts {
	unsigned flags;		/* ZC_XFER_* */
	size_t pipe_size;	/* owned pipe size; 0: the largest allowed */
	size_t buf_size;	/* read/write buffer; 0: 128 KiB */
	/* Called after each chunk with the running totals; may be NULL. */
	void (*progress)(void *arg, const struct zc_stats *st);
	void *arg;
	/* Read only when flags has ZC_XFER_RATE or ZC_XFER_TICK, so that
	 * callers built against 0.1 (a shorter struct) keep working. */
	uint64_t rate;		/* ZC_XFER_RATE: at most this many bytes a
				   second are read, method unchanged */
	int tick_ms;		/* ZC_XFER_TICK: progress is also called
				   this often while the transfer waits */
};

/*
 * Moves everything from src to dst until end of input or limit bytes
 * (ZC_NO_LIMIT: no limit), by the best method for the pair:
 * copy_file_range for file to file, sendfile or splice from a file,
 * splice directly when either side is a pipe, splice through an owned
 * pipe otherwise, read/write when nothing else works. A method refused
 * with EINVAL, ENOSYS, EOPNOTSUPP or EXDEV gives way to the next one, in
 * the middle of the stream too, after the bytes already in the owned pipe
 * are delivered: nothing is lost, nothing repeated, the count stays exact.
 * Files are read and written at their current offsets, which advance.
 * Non-blocking descriptors are waited on with zc_wait().
 *
 * Returns the number of bytes delivered, or -errno; stats (may be NULL)
 * are filled in either way, with err_side telling which side failed.
 * opts may be NULL.
 */
int64_t zc_transfer(int dst, int src, uint64_t limit,
    const struct zc_transfer_opts *opts, struct zc_stats *stats);

/* ------------------------------------------------------------------ */
/* Endpoint specs (see zerocopy-endpoints(7))                         */
/* ------------------------------------------------------------------ */

enum zc_spec_kind {
	ZC_SPEC_STDIO,		/* "-" */
	ZC_SPEC_FD,		/* "fd:N" */
	ZC_SPEC_PATH,		/* a path; a unix socket there is connected to */
	ZC_SPEC_FILE,		/* "file:PATH" */
	ZC_SPEC_TCP,		/* "HOST:PORT", "[V6]:PORT", "tcp:HOST:PORT" */
	ZC_SPEC_UNIX,		/* "unix:PATH" */
	ZC_SPEC_TCP_LISTEN,	/* "listen:[HOST:]PORT", "tcp-listen:..." */
	ZC_SPEC_UNIX_LISTEN	/* "unix-listen:PATH" */
};

#define ZC_SPEC_PATH_MAX 4096
#define ZC_SPEC_HOST_MAX 256
#define ZC_SPEC_PORT_MAX 32

struct zc_spec {
	enum zc_spec_kind kind;
	int fd;					/* ZC_SPEC_FD */
	int family;				/* AF_UNSPEC, AF_INET, AF_INET6 */
	char path[ZC_SPEC_PATH_MAX];		/* PATH, FILE, UNIX* */
	char host[ZC_SPEC_HOST_MAX];		/* TCP*; "" for any */
	char port[ZC_SPEC_PORT_MAX];		/* TCP*: number or service */
};

/*
 * Parses text into sp without any I/O. Returns 0, or -EINVAL with *why
 * (if why is not NULL) set to a lower-case sentence saying what is wrong,
 * for messages like "prog: spec 'x:y': <why>"; it stays valid until the
 * next zc_spec_parse call in the same thread.
 */
int zc_spec_parse(struct zc_spec *sp, const char *text, const char **why);

/* Flags for zc_spec_parse_flags: which operand words are specs. */
#define ZC_SPEC_FILES_FIRST	0x1	/* GNU tee: a file unless prefixed or
					 * IPV4:PORT, [IPV6]:PORT,
					 * localhost:PORT */
#define ZC_SPEC_HOST_FIRST	0x2	/* nc: a host unless "-", prefixed
					 * or with a '/' */

/*
 * zc_spec_parse with a rule for words that are not obviously specs.
 * flags 0 is zc_spec_parse. ZC_SPEC_FILES_FIRST: a word with no known
 * prefix that is not IPV4:PORT, [IPV6]:PORT or localhost:PORT is
 * ZC_SPEC_PATH whatever it holds ("-" and "" too; -ENAMETOOLONG when it
 * does not fit in path), and those three socket forms leave path "" (no
 * file of that name is preferred). ZC_SPEC_HOST_FIRST: a word that is
 * not "-", has no known prefix and no '/' returns -ENOENT (no why): it
 * is a host name, for a port in the next operand. Both flags at once,
 * or unknown ones: -EINVAL.
 */
int zc_spec_parse_flags(struct zc_spec *sp, const char *text,
    unsigned flags, const char **why);

enum zc_kind {
	ZC_KIND_FILE,		/* regular file */
	ZC_KIND_PIPE,		/* pipe or FIFO */
	ZC_KIND_SOCKET,
	ZC_KIND_TTY,
	ZC_KIND_CHAR,		/* other character device (/dev/null, ...) */
	ZC_KIND_OTHER		/* directory, block device, ... */
};

/* "file", "pipe", "socket", "tty", "char", "other". */
const char *zc_kind_name(enum zc_kind k);

/* The kind of an open descriptor, or -errno. */
int zc_fd_kind(int fd);

#define ZC_OPEN_READ 0x01u	/* the endpoint is a source */
#define ZC_OPEN_WRITE 0x02u	/* the endpoint is a sink */
#define ZC_OPEN_APPEND 0x04u	/* files: O_APPEND instead of O_TRUNC */
#define ZC_OPEN_NONBLOCK 0x08u	/* sockets the library makes: O_NONBLOCK */
#define ZC_OPEN_IPV4 0x10u	/* TCP: IPv4 only */
#define ZC_OPEN_IPV6 0x20u	/* TCP: IPv6 only */
#define ZC_OPEN_NOCREAT 0x40u	/* files: never create */
#define ZC_OPEN_NUMERIC 0x80u	/* TCP: numeric addresses only, no DNS
				   (since 0.2) */

struct zc_endpoint {
	int fd;
	enum zc_kind kind;
	int owned;		/* 1: zc_endpoint_close closes fd */
};

/*
 * Opens what sp names: "-" is standard input (READ) or output (WRITE)
 * and is not owned; fd:N checks that N is open; files open with O_CLOEXEC
 * (and for WRITE O_CREAT|O_TRUNC, or O_APPEND with ZC_OPEN_APPEND, mode
 * 0666 less umask); TCP names are resolved and each address is tried in
 * turn; the listen kinds bind, listen and accept exactly one connection.
 * timeout_ms bounds connect and accept (< 0: no bound). Returns 0 or
 * -errno (-ZC_EAI_BASE range when a name does not resolve, -ETIMEDOUT).
 */
int zc_endpoint_open(struct zc_endpoint *ep, const struct zc_spec *sp,
    unsigned flags, int timeout_ms);

/* zc_endpoint_open, with TCP connects made from the local address that
 * src names (a TCP listen spec: "[HOST:]PORT", port 0 for any; NULL: the
 * kernel picks, as zc_endpoint_open). -EINVAL when src is given for a
 * spec that does not connect over TCP. */
int zc_endpoint_open_from(struct zc_endpoint *ep, const struct zc_spec *sp,
    const struct zc_spec *src, unsigned flags, int timeout_ms);

/* Binds fd, a TCP socket of family that is about to connect, to the
 * local address src names (as for zc_endpoint_open_from), resolved with
 * AI_PASSIVE (and AI_NUMERICHOST with ZC_OPEN_NUMERIC); SO_REUSEADDR is
 * set when src has a port. Returns 0 or -errno (-ZC_EAI_BASE range when
 * the host does not resolve, -EADDRNOTAVAIL when it has no address of
 * that family). */
int zc_bind_source(int fd, int family, const struct zc_spec *src,
    unsigned flags);

/* Closes ep->fd if ep owns it; sets fd to -1. */
void zc_endpoint_close(struct zc_endpoint *ep);

/* For the listen kinds: a bound, listening socket (SO_REUSEADDR). For
 * unix-listen a stale socket file at the path (no socket holds it; asked
 * without connecting, see zc_endpoint_open(3)) is replaced; one that a
 * socket holds is -EADDRINUSE, and anything else there (file, directory,
 * symbolic link) is -EEXIST; neither is touched. Returns the fd or
 * -errno. */
int zc_listen(const struct zc_spec *sp, unsigned flags, int backlog);

/* The socket file a unix listener made, as it was right after bind(2):
 * its path (relative to the working directory of that moment when the
 * spec's is) and identity. path is "" when there is nothing to remove. */
struct zc_sockfile {
	uint64_t dev;		/* st_dev */
	uint64_t ino;		/* st_ino */
	char path[108];		/* sizeof(((struct sockaddr_un *)0)->sun_path) */
};

/* zc_listen, and for unix-listen fills in *sf (sf may be NULL); for TCP,
 * and on failure, sf->path is "". */
int zc_listen_sockfile(const struct zc_spec *sp, unsigned flags,
    int backlog, struct zc_sockfile *sf);

/* Removes sf->path only if it is still the socket file recorded (same
 * st_dev and st_ino), so that a listener never removes the live socket of
 * another that replaced it; then empties sf->path. Returns 0 (removed, or
 * nothing to do), -ESTALE when another file is there now (left alone),
 * -ENOENT when it is gone, or -errno. Call it before closing the
 * listening socket: while open, it keeps the inode of its file, so that
 * a file made in its place cannot get the same number. */
int zc_sockfile_unlink(struct zc_sockfile *sf);

/* Accepts one connection on lfd (O_CLOEXEC, O_NONBLOCK with
 * ZC_OPEN_NONBLOCK), waiting at most timeout_ms (< 0: no bound).
 * The errors of a connection already gone (ECONNABORTED, EPROTO, EPERM
 * from a firewall, ENETDOWN, EHOSTUNREACH...) are retried like EAGAIN,
 * never returned. Returns the fd or -errno: -ETIMEDOUT, or -EAGAIN with
 * timeout_ms 0; -EMFILE, -ENFILE, -ENOBUFS, -ENOMEM leave the connection
 * in the backlog for a later try. */
int zc_accept(int lfd, unsigned flags, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Flows: any number of source -> sinks streams driven by one loop     */
/* ------------------------------------------------------------------ */

struct zc_loop;
struct zc_flow;

/* A new event loop (epoll), or NULL with errno set. */
struct zc_loop *zc_loop_new(void);

/* Frees the loop and every flow still in it. */
void zc_loop_free(struct zc_loop *loop);

/*
 * Runs until no flow is left running, no descriptor is watched and no
 * server or connect waits on a timer (0), until zc_loop_stop (-ECANCELED),
 * or until no byte moved and no event came for timeout_ms (-ETIMEDOUT;
 * timeout_ms < 0: no bound). Callbacks run from inside this call.
 */
int zc_loop_run(struct zc_loop *loop, int timeout_ms);

/* Makes zc_loop_run return -ECANCELED soon; async-signal-safe. */
void zc_loop_stop(struct zc_loop *loop);

/* Calls cb(arg) every interval_ms while zc_loop_run runs (0: never). */
void zc_loop_set_tick(struct zc_loop *loop, int interval_ms,
    void (*cb)(void *arg), void *arg);

/* Calls cb when fd has any of the poll(2) events (POLLIN, POLLOUT),
 * for as long as it is watched: a listening socket, say. 0 or -errno. */
int zc_loop_watch(struct zc_loop *loop, int fd, unsigned events,
    void (*cb)(struct zc_loop *loop, int fd, unsigned revents, void *arg),
    void *arg);
int zc_loop_unwatch(struct zc_loop *loop, int fd);

#define ZC_FLOW_NO_SPLICE 0x1u	/* read/write only */
#define ZC_FLOW_CLOSE 0x2u	/* close the source and sinks when freed */
#define ZC_FLOW_SPLICE_TCP 0x4u	/* splice into socket sinks (default:
				   measured, see zc_loop_new(3)) */
#define ZC_FLOW_KEEP_REST 0x8u	/* one sink only: see below */
#define ZC_FLOW_NO_GROW 0x10u	/* leave the sizes of the source and sink
				   pipes alone (default: grown within the
				   loop's pipe budget when the flow starts) */
#define ZC_FLOW_COPY_OUT 0x20u	/* socket sinks: splice in, read the pipe,
				   write(2) out (default: measured) */
#define ZC_FLOW_RATE 0x100u	/* the rate field is set (since 0.2) */
#define ZC_FLOW_LIVE 0x200u	/* sinks may be added and removed while
				   the flow runs, and it goes on with none:
				   see below (since 0.3) */

struct zc_flow_opts {
	unsigned flags;		/* ZC_FLOW_* */
	uint64_t limit;		/* ZC_NO_LIMIT or 0 in a zeroed struct: none */
	size_t pipe_size;	/* owned pipes; 0: the largest allowed */
	int idle_ms;		/* fail with -ETIMEDOUT when idle this long
				   (0: never) */
	/* The flow has ended: err 0 when the source reached its end (or
	 * the limit) and every remaining sink has every byte; -EPIPE when
	 * every sink was dropped; else the source's -errno. Not called for
	 * zc_flow_free. The flow may be freed from inside the callback. */
	void (*on_done)(struct zc_flow *f, int err, void *arg);
	/* A sink failed with err (-EPIPE for a reader gone, -ENOSPC, ...).
	 * Return 0 to drop that sink and go on with the others, or a
	 * negative value to end the whole flow with that error. NULL:
	 * drop the sink. */
	int (*on_sink_error)(struct zc_flow *f, int sink, int err, void *arg);
	void *arg;
	/* Read only when flags has ZC_FLOW_RATE (callers built against 0.1
	 * pass a shorter struct): the source is read at most this many
	 * bytes a second, by the same methods; the flow waits on a loop
	 * timer. 0: no limit. */
	uint64_t rate;
};

/*
 * A flow from src to sinks added with zc_flow_add_sink: every sink gets
 * every byte, in order, exactly once; a slow sink slows the flow (no
 * byte is dropped for it) and a dropped sink does not affect the others.
 * Sockets are made non-blocking while in a flow and restored when it is
 * freed. Returns NULL with errno set.
 */
struct zc_flow *zc_flow_new(struct zc_loop *loop, int src,
    const struct zc_flow_opts *opts);

/*
 * ZC_FLOW_KEEP_REST, for a flow with one sink whose sink may go away
 * before the end (a client that leaves while the source goes on): when
 * the flow stops early (freed, its sink dropped, or an error), what it
 * read from the source and did not deliver (at most an owned pipe and a
 * buffer full) stays with the loop. The next flow made on the same
 * source (same descriptor, device and inode) writes those bytes to its
 * sinks before it reads the source: one after another, the flows deliver
 * every byte of the source exactly once, in order. They count in that
 * flow's limit and sink stats, not in zc_flow_stats (an earlier flow
 * read them). zc_flow_add_sink refuses a second sink with -EINVAL;
 * zc_loop_free drops what is still kept.
 */

/* Adds a sink; returns its index (0, 1, ...) or -errno. Only before the
 * flow's first byte moves, unless the flow is ZC_FLOW_LIVE (then it is
 * zc_flow_add_sink_opts with no options). */
int zc_flow_add_sink(struct zc_flow *f, int fd);

/*
 * ZC_FLOW_LIVE: a live stream. Sinks may be added at any time; a sink
 * added while bytes move starts at a position the engine chooses (the
 * next boundary between two of its rounds), so it gets one contiguous
 * slice of the stream from about the moment it joined to the end, never
 * a fragment of older bytes. With no sink left the flow goes on, reading
 * the source and sending its bytes nowhere (on_done is not called with
 * -EPIPE), until the source ends. A live flow always runs in rounds.
 */

#define ZC_SINK_CLOSE 0x1u	/* close fd when the sink is removed, or
				   the flow freed (since 0.3) */

struct zc_sink_opts {
	unsigned flags;		/* ZC_SINK_* */
	/* 0: lossless, the default: the sink gets every byte, and a slow
	 * sink slows the flow. Else lossy: the flow keeps up to max_lag
	 * bytes for this sink (in an owned pipe, then in memory) and never
	 * waits for it; a sink that would fall further behind is dropped
	 * through on_sink_error with -ZC_ELAG. The bytes the kernel holds in
	 * the sink's own buffers (a socket's send buffer) do not count. */
	uint64_t max_lag;
	/* Lossy sinks, once the source has ended: a sink that takes no byte
	 * of what it is still owed for this long is dropped with -ZC_ELAG,
	 * so that a stalled reader cannot hold the end of the flow.
	 * 0: 2000 ms. */
	int drain_ms;
};

/* Adds a sink with options (so may be NULL: lossless); returns its
 * index or -errno. An index freed by zc_flow_remove_sink may be given
 * again. (since 0.3) */
int zc_flow_add_sink_opts(struct zc_flow *f, int fd,
    const struct zc_sink_opts *so);

/* Removes sink i from the flow, live or not, at any time, without
 * calling on_sink_error: what it was owed is discarded, its fd is
 * closed with ZC_SINK_CLOSE (or ZC_FLOW_CLOSE) and its index may be
 * reused. Safe from inside the flow's callbacks. A flow that is not
 * ZC_FLOW_LIVE ends with -EPIPE when its last sink goes. 0 or -EINVAL.
 * (since 0.3) */
int zc_flow_remove_sink(struct zc_flow *f, int sink);

/* Removes the flow from its loop and frees it (closing its fds with
 * ZC_FLOW_CLOSE). Safe from inside its callbacks. */
void zc_flow_free(struct zc_flow *f);

/* Bytes read from the source, and per method of the reading side. */
void zc_flow_stats(const struct zc_flow *f, struct zc_stats *st);

/* Bytes delivered to sink i, per method; err_side ZC_SIDE_DST and the
 * return value tell whether and how it failed (0 or -errno). */
int zc_flow_sink_stats(const struct zc_flow *f, int sink,
    struct zc_stats *st);


/* ------------------------------------------------------------------ */
/* Servers and connects driven by a loop (see zc_server_new(3))        */
/* ------------------------------------------------------------------ */

struct zc_server;
struct zc_connect;

#define ZC_SERVER_REFUSE 0x1u	/* at the cap: accept further connections
				   and close them at once (on_event
				   ZC_SERVER_EV_REFUSED); default: leave
				   them in the backlog until one ends */

enum zc_server_event {
	ZC_SERVER_EV_PAUSED,	/* accept failed with err (-EMFILE,
				   -ENFILE, -ENOBUFS, -ENOMEM): the server
				   stops watching, waits 100 ms and tries
				   again by itself; told for every try
				   that fails so, to be counted */
	ZC_SERVER_EV_RESUMED,	/* accepting again after a pause: once,
				   before the first connection it takes */
	ZC_SERVER_EV_REFUSED,	/* ZC_SERVER_REFUSE: fd, a connection over
				   the cap, is closed once on_event returns */
	ZC_SERVER_EV_FAILED	/* accept failed for good with err: the
				   server has stopped watching its socket */
};

struct zc_server_opts {
	unsigned flags;		/* ZC_SERVER_* */
	unsigned open_flags;	/* ZC_OPEN_NONBLOCK: accepted sockets are
				   non-blocking */
	int max_conns;		/* connections at once; 0: no cap */
	/* A connection came. fd is the caller's; call zc_server_done when
	 * it is over, so that another may come past the cap. */
	void (*on_accept)(struct zc_server *sv, int fd, void *arg);
	/* Something the caller may want to tell (may be NULL). fd is the
	 * refused connection for ZC_SERVER_EV_REFUSED, else -1. */
	void (*on_event)(struct zc_server *sv, enum zc_server_event ev,
	    int err, int fd, void *arg);
	void *arg;
};

/* A server on lfd, a listening socket the caller made (zc_listen) and
 * keeps: accepts with zc_accept's retries, up to max_conns at once,
 * pausing on EMFILE and the like. While it watches lfd or is paused it
 * keeps zc_loop_run running; free it before the loop. NULL with errno
 * set. (since 0.3) */
struct zc_server *zc_server_new(struct zc_loop *loop, int lfd,
    const struct zc_server_opts *opts);

/* One connection on_accept gave is over. */
void zc_server_done(struct zc_server *sv);

/* Connections given and not yet done. */
int zc_server_count(const struct zc_server *sv);

/* Stops accepting and frees sv; lfd stays open. Safe from callbacks. */
void zc_server_free(struct zc_server *sv);

/* Connects to sp (TCP, each address in turn, or a unix socket, a full
 * backlog tried again every 50 ms) without blocking the loop (a TCP name
 * is resolved at once), from src when not NULL (zc_endpoint_open_from),
 * within timeout_ms (< 0: no bound); then calls cb once, from the loop,
 * with the connected socket (O_NONBLOCK, the caller's) or -errno, and
 * frees c. NULL with errno set when it cannot start (-EINVAL: sp does
 * not connect). (since 0.3) */
struct zc_connect *zc_connect_start(struct zc_loop *loop,
    const struct zc_spec *sp, const struct zc_spec *src, unsigned flags,
    int timeout_ms, void (*cb)(struct zc_connect *c, int fd, void *arg),
    void *arg);

/* Gives up a connect that has not called back yet, and frees it. */
void zc_connect_cancel(struct zc_connect *c);

#ifdef __cplusplus
}
#endif

#endif
