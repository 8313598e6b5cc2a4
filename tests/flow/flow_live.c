/*
 * Live flows (ZC_FLOW_LIVE) and lossy sinks (zc_sink_opts.max_lag): a
 * paced stream in which every 8-byte little-endian word is its own
 * offset, so that a slice can be checked wherever it starts. Sinks join
 * and leave while it runs; each must get one contiguous slice, and a
 * sink present at the end must get the stream to its end. A reader that
 * stops is cut off with -ZC_ELAG, while the others and the lossless
 * sinks complete and the flow ends on time. Indices are reused, and
 * descriptors come back to their count before the flow.
 */
#include <sys/resource.h>

#include "tutil.h"

#define MAXS	256

/* Byte off of the offset pattern. */
static inline unsigned char
pat(uint64_t off)
{
	return (unsigned char)((off & ~(uint64_t)7) >> (8 * (off & 7)));
}

static void
pat_fill(unsigned char *p, uint64_t off, size_t len)
{
	uint64_t w;
	size_t i = 0;

	for (; i < len && (off + i) % 8; i++)
		p[i] = pat(off + i);
	for (; i + 8 <= len; i += 8) {
		w = off + i;
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = pat(off + i);
}

/* Writes size bytes of the pattern to fd at about rate bytes/s. */
static pid_t
spawn_pattern(int fd, uint64_t size, uint64_t rate)
{
	static unsigned char buf[65536];
	uint64_t off = 0;
	double t0;
	ssize_t n;
	size_t len;
	pid_t pid;

	if ((pid = fork()) == -1)
		exit(1);
	if (pid > 0) {
		close(fd);
		return pid;
	}
	alarm(60);
	signal(SIGPIPE, SIG_DFL);
	fd = close_others(fd);
	t0 = now_s();
	while (off < size) {
		len = size - off < sizeof(buf) ? size - off : sizeof(buf);
		pat_fill(buf, off, len);
		if ((n = write(fd, buf, len)) <= 0)
			_exit(1);
		off += n;
		while (rate && now_s() - t0 < (double)off / rate)
			usleep(1000);
	}
	_exit(0);
}

/* What a reading child found, sent back through a pipe. */
struct slice {
	int id;
	int ok;
	uint64_t off, len;
};

static int results[2];

/* Forks a child that reads fd to its end (or stops reading after stop
 * bytes and sleeps, when stop > 0) and checks that it got one slice of
 * the pattern. */
static pid_t
spawn_reader(int id, int fd, uint64_t stop)
{
	static unsigned char buf[65536], expect[65536];
	unsigned char head[16];
	struct slice sl = { .id = id, .ok = 1 };
	size_t hlen = 0, i, j;
	uint64_t w;
	ssize_t n;
	int known = 0;
	pid_t pid;

	if ((pid = fork()) == -1)
		exit(1);
	if (pid > 0) {
		close(fd);
		return pid;
	}
	alarm(60);
	/* Keep fd and results[1] only, in few calls (strace runs it). */
	if (dup2(fd, 3) == -1 || dup2(results[1], 4) == -1)
		_exit(4);
	fd = 3;
	results[1] = 4;
	if (close_range(5, ~0U, 0) == -1)
		for (i = 5; i < 1024; i++)
			close(i);
	for (;;) {
		if (stop && sl.len >= stop) {
			pause();
			_exit(0);
		}
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			if (!known) {
				head[hlen++] = buf[i];
				if (hlen < 16)
					continue;
				for (j = 0; j < 8 && !known; j++) {
					memcpy(&w, head + j, 8);
					if (w % 8 || w < j)
						continue;
					sl.off = w - j;
					known = 1;
					for (hlen = 0; hlen < 16; hlen++)
						if (head[hlen] !=
						    pat(sl.off + hlen))
							known = 0;
				}
				if (!known) {
					sl.ok = 0;
					goto out;
				}
				sl.len = 16;
				continue;
			}
			/* Known: the rest of this read at once. */
			j = n - i;
			pat_fill(expect, sl.off + sl.len, j);
			if (memcmp(buf + i, expect, j) != 0) {
				while (buf[i] == pat(sl.off + sl.len))
					i++, sl.len++;
				sl.ok = 0;
				goto out;
			}
			sl.len += j;
			break;
		}
	}
	if (!known)
		sl.len = hlen;	/* too short to place: fewer than 16 */
out:
	if (write(results[1], &sl, sizeof(sl)) != sizeof(sl))
		_exit(3);
	_exit(0);
}

static int cuts, other_errs, done_calls, done_err;
static int remove_in_cb;

static int
on_sink_error(struct zc_flow *f, int sink, int err, void *arg)
{
	if (err == -ZC_ELAG)
		cuts++;
	else if (err != -EPIPE && err != -ECONNRESET)
		other_errs++;
	if (remove_in_cb)
		zc_flow_remove_sink(f, sink);
	return 0;
}

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	done_calls++;
	done_err = err;
}

/* The case being run, driven from the loop's tick. */
static struct {
	struct zc_flow *f;
	int nadd;		/* readers to add, one a tick */
	int every;		/* ticks between adds */
	int leave_after;	/* ticks a reader stays; 0: to the end */
	uint64_t max_lag;
	int sink[MAXS];		/* index of reader k, -1 when gone */
	int tick_of[MAXS];
	pid_t pid[MAXS];
	int nreaders;
	int ticks;
	int maxidx;
	int sockets;		/* 1: socketpairs; 0: pipes */
} cs;

static void
tick(void *arg)
{
	struct zc_sink_opts so = { .flags = ZC_SINK_CLOSE };
	int k, sv[2], r;

	cs.ticks++;
	for (k = 0; k < cs.nreaders; k++)
		if (cs.sink[k] >= 0 && cs.leave_after &&
		    cs.ticks - cs.tick_of[k] >= cs.leave_after) {
			CHECK(zc_flow_remove_sink(cs.f, cs.sink[k]) == 0);
			cs.sink[k] = -1;
		}
	if (cs.nreaders >= cs.nadd || cs.ticks % cs.every)
		return;
	k = cs.nreaders++;
	if (cs.sockets)
		r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	else
		r = pipe2(sv, O_CLOEXEC);
	if (r == -1) {
		FAIL("socketpair: %s", strerror(errno));
		return;
	}
	if (cs.sockets) {
		cs.pid[k] = spawn_reader(k, sv[1], 0);
		r = sv[0];
	} else {
		cs.pid[k] = spawn_reader(k, sv[0], 0);
		r = sv[1];
	}
	so.max_lag = cs.max_lag;
	cs.sink[k] = zc_flow_add_sink_opts(cs.f, r, &so);
	cs.tick_of[k] = cs.ticks;
	if (cs.sink[k] < 0) {
		FAIL("add_sink_opts: %s", zc_strerror(cs.sink[k]));
		close(r);
	} else if (cs.sink[k] > cs.maxidx)
		cs.maxidx = cs.sink[k];
}

/*
 * Streams size bytes at rate into a live flow (source: a pipe, or a
 * socketpair for the hub path) with a lossless file, optionally, and
 * readers added every `every` ticks of 20 ms; checks every slice.
 */
static void
run_live(const char *name, int srcsock, uint64_t size, uint64_t rate,
    int with_file, int nadd, int every, int leave_after, uint64_t max_lag,
    int sockets)
{
	struct zc_flow_opts o = {
		.flags = ZC_FLOW_LIVE, .on_done = on_done,
		.on_sink_error = on_sink_error,
	};
	struct zc_loop *loop;
	struct slice sl;
	char path[300];
	pid_t wpid;
	int base, sv[2], src, fd = -1, r, k, nres = 0, before = failures;
	uint64_t full = 0;
	double t0 = now_s();

	base = fd_count();
	memset(&cs, 0, sizeof(cs));
	cs.nadd = nadd;
	cs.every = every;
	cs.leave_after = leave_after;
	cs.max_lag = max_lag;
	cs.sockets = sockets;
	cuts = other_errs = done_calls = 0;
	done_err = 1;
	if (srcsock)
		r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	else
		r = pipe2(sv, O_CLOEXEC);
	if (r == -1 || pipe2(results, O_CLOEXEC) == -1) {
		FAIL("%s: pipe: %s", name, strerror(errno));
		return;
	}
	src = sv[0];
	wpid = spawn_pattern(sv[1], size, rate);
	loop = zc_loop_new();
	cs.f = zc_flow_new(loop, src, &o);
	CHECK(cs.f != NULL);
	if (with_file) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		CHECK(zc_flow_add_sink(cs.f, fd) == 0);
	}
	zc_loop_set_tick(loop, 20, tick, NULL);
	r = zc_loop_run(loop, 20000);
	if (r != 0 || done_calls != 1 || done_err != 0)
		FAIL("%s: run %d, done %d err %d", name, r, done_calls,
		    done_err);
	for (k = 0; k < cs.nreaders; k++)
		if (cs.sink[k] >= 0)
			zc_flow_remove_sink(cs.f, cs.sink[k]);
	zc_flow_free(cs.f);
	zc_loop_free(loop);
	close(src);
	close(results[1]);
	while (read(results[0], &sl, sizeof(sl)) == sizeof(sl)) {
		nres++;
		if (!sl.ok)
			FAIL("%s: reader %d: not one slice (from %llu, %llu "
			    "bytes right)", name, sl.id,
			    (unsigned long long)sl.off,
			    (unsigned long long)sl.len);
		else if (sl.len && sl.off + sl.len == size)
			full++;
		if (!leave_after && max_lag == 0 && sl.len >= 16 &&
		    sl.off + sl.len != size)
			FAIL("%s: reader %d stopped at %llu of %llu", name,
			    sl.id, (unsigned long long)(sl.off + sl.len),
			    (unsigned long long)size);
	}
	close(results[0]);
	for (k = 0; k < cs.nreaders; k++)
		reap(cs.pid[k]);
	if (nres != cs.nreaders)
		FAIL("%s: %d results from %d readers", name, nres,
		    cs.nreaders);
	if (reap(wpid) != 0)
		FAIL("%s: the writer failed", name);
	if (with_file) {
		struct stat sb;
		unsigned char a[65536], b[65536];
		uint64_t off = 0;
		ssize_t n;

		CHECK(fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == size);
		lseek(fd, 0, SEEK_SET);
		while ((n = read(fd, a, sizeof(a))) > 0) {
			pat_fill(b, off, n);
			if (memcmp(a, b, n) != 0) {
				FAIL("%s: file differs near %llu", name,
				    (unsigned long long)off);
				break;
			}
			off += n;
		}
		close(fd);
	}
	if (leave_after && cs.maxidx > 4 * leave_after / every + 4)
		FAIL("%s: index %d: slots are not reused", name, cs.maxidx);
	if (other_errs)
		FAIL("%s: %d unexpected sink errors", name, other_errs);
	if (fd_count() != base)
		FAIL("%s: %d descriptors before, %d after", name, base,
		    fd_count());
	printf("%s %s: %d readers (%llu to the end), %d cut, max index %d, "
	    "%.1f s\n", failures == before ? "ok" : "FAIL", name, cs.nreaders,
	    (unsigned long long)full, cuts, cs.maxidx, now_s() - t0);
}

/*
 * One lossless file and lossy readers, one of them stopped after
 * `stop` bytes: it is cut off (-ZC_ELAG), the others and the file get
 * everything, and the flow ends within the drain time.
 */
static void
run_stalled(const char *name, int live, int with_file, uint64_t size,
    uint64_t rate, uint64_t max_lag, uint64_t stop, int nfast)
{
	struct zc_flow_opts o = {
		.flags = live ? ZC_FLOW_LIVE : 0, .on_done = on_done,
		.on_sink_error = on_sink_error,
	};
	struct zc_sink_opts so = { .flags = ZC_SINK_CLOSE,
	    .max_lag = max_lag, .drain_ms = 300 }, fso;
	struct zc_loop *loop;
	struct zc_flow *f;
	struct slice sl;
	pid_t wpid, pid[8], spid;
	char path[300];
	int base, sv[2], p[2], src, fd = -1, k, r, nres = 0;
	int before = failures;
	double t0 = now_s(), took;

	base = fd_count();
	cuts = other_errs = done_calls = 0;
	done_err = 1;
	if (pipe2(p, O_CLOEXEC) == -1 || pipe2(results, O_CLOEXEC) == -1)
		exit(1);
	src = p[0];
	wpid = spawn_pattern(p[1], size, rate);
	loop = zc_loop_new();
	f = zc_flow_new(loop, src, &o);
	if (with_file) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		CHECK(zc_flow_add_sink(f, fd) == 0);
	}
	/* The readers that keep reading are lossy too, with a bound four
	 * times the stalled one's: a reader descheduled for a while (strace,
	 * a loaded host) must not be cut off. */
	fso = so;
	fso.max_lag = max_lag * 4;
	for (k = 0; k < nfast; k++) {
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
		pid[k] = spawn_reader(k, sv[1], 0);
		CHECK(zc_flow_add_sink_opts(f, sv[0], &fso) >= 0);
	}
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	spid = spawn_reader(99, sv[1], stop);
	CHECK(zc_flow_add_sink_opts(f, sv[0], &so) >= 0);
	r = zc_loop_run(loop, 20000);
	took = now_s() - t0;
	if (r != 0 || done_calls != 1 || done_err != 0)
		FAIL("%s: run %d, done %d err %d", name, r, done_calls,
		    done_err);
	if (cuts != 1)
		FAIL("%s: %d cut off, not 1", name, cuts);
	zc_flow_free(f);
	zc_loop_free(loop);
	close(src);
	kill(spid, SIGTERM);
	reap(spid);
	close(results[1]);
	while (read(results[0], &sl, sizeof(sl)) == sizeof(sl)) {
		if (sl.id == 99) {
			/* The stalled reader, cut off before it reached its
			 * stop (it started late): its slice is still one. */
			if (!sl.ok)
				FAIL("%s: the stalled reader's bytes differ",
				    name);
			continue;
		}
		nres++;
		if (!sl.ok || sl.off != 0 || sl.len != size)
			FAIL("%s: reader %d: ok %d from %llu, %llu bytes", name,
			    sl.id, sl.ok, (unsigned long long)sl.off,
			    (unsigned long long)sl.len);
	}
	close(results[0]);
	for (k = 0; k < nfast; k++)
		reap(pid[k]);
	CHECK(nres == nfast);
	CHECK(reap(wpid) == 0);
	if (with_file) {
		struct stat sb;

		CHECK(fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == size);
		close(fd);
	}
	/* Paced: the stream takes size / rate; the cut costs no more than
	 * the drain time and some slack. */
	if (rate && took > (double)size / rate + 3)
		FAIL("%s: took %.1f s", name, took);
	if (other_errs)
		FAIL("%s: %d unexpected sink errors", name, other_errs);
	if (fd_count() != base)
		FAIL("%s: %d descriptors before, %d after", name, base,
		    fd_count());
	printf("%s %s: %.1f s\n", failures == before ? "ok" : "FAIL", name,
	    took);
}

/* The API's refusals. */
static void
run_api(void)
{
	struct zc_flow_opts o = { 0 };
	struct zc_loop *loop = zc_loop_new();
	struct zc_flow *f;
	int p[2], q[2];

	pipe2(p, O_CLOEXEC);
	pipe2(q, O_CLOEXEC);
	f = zc_flow_new(loop, p[0], &o);
	CHECK(zc_flow_add_sink(f, q[1]) == 0);
	CHECK(zc_flow_remove_sink(f, 1) == -EINVAL);
	CHECK(zc_flow_remove_sink(f, 0) == 0);
	CHECK(zc_flow_remove_sink(f, 0) == -EINVAL);
	CHECK(zc_flow_add_sink(f, q[1]) == 0);	/* slot 0 again */
	zc_flow_free(f);
	o.flags = ZC_FLOW_KEEP_REST;
	f = zc_flow_new(loop, p[0], &o);
	{
		struct zc_sink_opts so = { .max_lag = 4096 };

		CHECK(zc_flow_add_sink_opts(f, q[1], &so) == -EINVAL);
	}
	zc_flow_free(f);
	zc_loop_free(loop);
	CHECK(strcmp(zc_strerror(-ZC_ELAG), "fell too far behind the stream")
	    == 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	printf("%s api\n", failures ? "FAIL" : "ok");
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	make_tmpdir();
	run_api();
	/* Joins into a lossless file's stream, readers to the end. */
	run_live("join-pipe", 0, 48 << 20, 40 << 20, 1, 8, 5, 0, 0, 1);
	run_live("join-hub", 1, 48 << 20, 40 << 20, 1, 8, 5, 0, 0, 0);
	/* No sink at first, only lossy readers that come and go. */
	run_live("come-and-go", 0, 48 << 20, 40 << 20, 0, 40, 2, 7, 4 << 20,
	    1);
	/* Many short-lived readers: slots are reused. */
	run_live("churn", 1, 32 << 20, 40 << 20, 1, 150, 1, 3, 4 << 20, 1);
	/* A stopped reader is cut off; with a lossless file, without, and
	 * in a flow that is not live. */
	run_stalled("stall-file", 1, 1, 48 << 20, 40 << 20, 16 << 20, 1 << 20,
	    2);
	run_stalled("stall-lossy-only", 1, 0, 48 << 20, 40 << 20, 16 << 20,
	    1 << 20, 3);
	run_stalled("stall-not-live", 0, 1, 48 << 20, 40 << 20, 16 << 20,
	    1 << 20, 1);
	/* Stopped near the end, less than max_lag behind: the drain time
	 * cuts it. */
	run_stalled("stall-at-end", 1, 1, 16 << 20, 40 << 20, 64 << 20,
	    12 << 20, 2);
	/* Unpaced: the one fast reader leads, as fast as it goes. */
	run_stalled("stall-unpaced", 1, 0, 64 << 20, 0, 4 << 20, 1, 1);
	remove_tmpdir();
	return failures ? 1 : 0;
}
