/*
 * One source (pipe, file, socketpair, TCP) to 1, 2 and 13 sinks of mixed
 * kinds (pipes and sockets read by checking children, files, O_APPEND
 * files that cannot be spliced into, a slow reader), sizes 0, 1,
 * 1 MiB + 1 and 64 MiB: every sink gets every byte, exactly. Also 40
 * sinks, most of them files (written from the flow's shared buffer),
 * and the same with no descriptor left for the flow's own pipes.
 */
#include <sys/resource.h>

#include "tutil.h"

enum { K_PIPE, K_SLOW, K_FILE, K_APPEND, K_SOCKPAIR, K_TCP, K_NKINDS };

static const char *knames[] = {
	"pipe", "slow", "file", "append", "socketpair", "tcp"
};
static const char *snames[] = { "pipe", "file", "socketpair", "tcp" };

struct snk {
	int kind;
	int fd;
	pid_t pid;
	char path[300];
};

static int done_calls, done_err;

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	done_calls++;
	done_err = err;
}

static uint64_t seedno = 1;
static int tight;	/* no descriptor left for the flow's own pipes */

#define MAX_SINKS	40

/* Runs one case; returns after checking everything. */
static void
run(int srck, uint64_t size, const int *kinds, int n, unsigned flags)
{
	struct zc_flow_opts o = { .flags = flags, .on_done = on_done };
	struct zc_stats st;
	struct zc_loop *loop;
	struct zc_flow *f;
	struct snk sk[MAX_SINKS];
	struct rlimit rl, low;
	uint64_t seed = seedno++;
	pid_t wpid = -1;
	int base, src, r, i, p[2], top, plug[4 * MAX_SINKS], nplug = 0;
	int before = failures;
	double t0;

	t0 = now_s();
	base = fd_count();
	src = open_source(srck, tmpdir, seed, size, &wpid);
	if ((loop = zc_loop_new()) == NULL)
		exit(1);
	if ((f = zc_flow_new(loop, src, &o)) == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		sk[i].kind = kinds[i];
		sk[i].pid = -1;
		sk[i].path[0] = 0;
		switch (kinds[i]) {
		case K_PIPE:
		case K_SLOW:
			if (pipe2(p, O_CLOEXEC) == -1)
				exit(1);
			sk[i].fd = p[1];
			sk[i].pid = spawn_checker(p[0], seed, size,
			    kinds[i] == K_SLOW ? 4096 : 0,
			    kinds[i] == K_SLOW ? 200 : 0);
			break;
		case K_FILE:
		case K_APPEND:
			snprintf(sk[i].path, sizeof(sk[i].path), "%s/out%d",
			    tmpdir, i);
			sk[i].fd = open(sk[i].path, O_WRONLY | O_CREAT |
			    O_TRUNC | O_CLOEXEC |
			    (kinds[i] == K_APPEND ? O_APPEND : 0), 0600);
			break;
		case K_SOCKPAIR:
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    p))
				exit(1);
			sk[i].fd = p[0];
			sk[i].pid = spawn_checker(p[1], seed, size, 0, 0);
			break;
		case K_TCP:
			if (tcp_pair(&p[0], &p[1]) == -1)
				exit(1);
			sk[i].fd = p[0];
			sk[i].pid = spawn_checker(p[1], seed, size, 0, 0);
			break;
		}
		if ((r = zc_flow_add_sink(f, sk[i].fd)) != i)
			FAIL("add_sink %d returned %d", i, r);
	}
	if (tight) {
		/* Every descriptor number from here on is taken or above
		 * the limit: the flow makes do without pipes of its own. */
		for (top = src, i = 0; i < n; i++)
			if (sk[i].fd > top)
				top = sk[i].fd;
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			exit(1);
		low = rl;
		low.rlim_cur = top + 1;
		nplug = 0;
		for (i = 3; i <= top && nplug < (int)(sizeof(plug) /
		    sizeof(plug[0])); i++)
			if (fcntl(i, F_GETFD) == -1 && dup2(src, i) == i)
				plug[nplug++] = i;
		if (setrlimit(RLIMIT_NOFILE, &low) == -1)
			exit(1);
	}
	r = zc_loop_run(loop, 30000);
	if (tight) {
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			exit(1);
		while (nplug > 0)
			close(plug[--nplug]);
	}
	if (r != 0)
		FAIL("zc_loop_run: %s", strerror(-r));
	if (done_calls != 1 || done_err != 0)
		FAIL("on_done called %d times, err %d", done_calls, done_err);
	done_calls = 0;
	zc_flow_stats(f, &st);
	if (st.bytes != size || !stats_exact(&st))
		FAIL("source stats %llu bytes", (unsigned long long)st.bytes);
	for (i = 0; i < n; i++) {
		r = zc_flow_sink_stats(f, i, &st);
		if (r != 0 || st.bytes != size || !stats_exact(&st))
			FAIL("sink %d (%s): err %d, %llu bytes", i,
			    knames[sk[i].kind], r,
			    (unsigned long long)st.bytes);
		if (tight && st.by_method[ZC_METHOD_READ_WRITE] != size)
			FAIL("sink %d (%s): %llu bytes by read/write without "
			    "pipes", i, knames[sk[i].kind],
			    (unsigned long long)st.by_method[
			    ZC_METHOD_READ_WRITE]);
		if (sk[i].kind == K_APPEND && size > 0 &&
		    !(flags & ZC_FLOW_NO_SPLICE) &&
		    st.by_method[ZC_METHOD_READ_WRITE] == 0)
			FAIL("sink %d: O_APPEND without read/write", i);
	}
	zc_flow_free(f);
	zc_loop_free(loop);
	if (!(flags & ZC_FLOW_CLOSE)) {
		close(src);
		for (i = 0; i < n; i++)
			close(sk[i].fd);
	}
	if (wpid > 0 && (r = reap(wpid)) != 0)
		FAIL("writer exit %d", r);
	for (i = 0; i < n; i++) {
		if (sk[i].pid > 0 && (r = reap(sk[i].pid)) != 0)
			FAIL("sink %d (%s) checker exit %d", i,
			    knames[sk[i].kind], r);
		if (sk[i].path[0] && (r = check_file(sk[i].path, seed, size)))
			FAIL("sink %d (%s) file check %d", i,
			    knames[sk[i].kind], r);
		sk[i].path[0] = 0;
	}
	if ((r = fd_count()) != base)
		FAIL("%d descriptors open, %d before", r, base);
	if (getenv("FLOW_VERBOSE"))
		fprintf(stderr, "%.3f s: source %s, size %llu, %d sinks "
		    "(first %s), flags %#x\n", (now_s() - t0), snames[srck],
		    (unsigned long long)size, n, knames[kinds[0]], flags);
	if (failures != before)
		fprintf(stderr, "  in case: source %s, size %llu, %d sinks, "
		    "flags %#x\n", snames[srck], (unsigned long long)size, n,
		    flags);
}

int
main(int argc, char **argv)
{
	static const uint64_t sizes[] = { 0, 1, (1 << 20) + 1 };
	static const int two[][2] = {
		{ K_PIPE, K_FILE }, { K_SOCKPAIR, K_APPEND },
		{ K_TCP, K_PIPE }, { K_FILE, K_SLOW },
	};
	static const int thirteen[13] = {
		K_PIPE, K_FILE, K_APPEND, K_SOCKPAIR, K_TCP, K_PIPE, K_FILE,
		K_SOCKPAIR, K_TCP, K_APPEND, K_PIPE, K_SLOW, K_FILE,
	};
	static const int big13[13] = {
		K_PIPE, K_FILE, K_APPEND, K_SOCKPAIR, K_TCP, K_PIPE, K_FILE,
		K_SOCKPAIR, K_TCP, K_APPEND, K_PIPE, K_PIPE, K_FILE,
	};
	int many[MAX_SINKS];
	int s, z, k, i, quick = argc > 1 && strcmp(argv[1], "quick") == 0;

	signal(SIGPIPE, SIG_IGN);
	make_tmpdir();
	/* Many files, a few pipes and sockets, some O_APPEND. */
	for (i = 0; i < MAX_SINKS; i++)
		many[i] = i % 8 == 3 ? K_PIPE : i % 8 == 5 ? K_SOCKPAIR :
		    i % 16 == 7 ? K_APPEND : K_FILE;
	for (s = 0; s < SRC_NKINDS; s++)
		for (tight = 0; tight < 2; tight++)
			run(s, sizes[2], many, MAX_SINKS, 0);
	tight = 0;
	for (s = 0; s < SRC_NKINDS; s++) {
		for (z = quick; z < 3; z++) {
			for (k = 0; k < K_NKINDS; k++)
				if (!quick || k != K_SLOW)
					run(s, sizes[z], &k, 1, 0);
			for (i = 0; i < 4 && (!quick || z == 2); i++)
				run(s, sizes[z], two[i], 2, 0);
			run(s, sizes[z], thirteen, 13, 0);
		}
		if (quick)
			continue;
		/* read/write only, every kind at once */
		run(s, 0, thirteen, 13, ZC_FLOW_NO_SPLICE);
		run(s, sizes[2], thirteen, 13, ZC_FLOW_NO_SPLICE);
		k = K_TCP;
		run(s, sizes[2], &k, 1, ZC_FLOW_NO_SPLICE);
	}
	if (quick)
		goto out;
	/* The sinks' descriptors closed by the flow. */
	run(SRC_PIPE, 12345, big13, 13, ZC_FLOW_CLOSE);
	run(SRC_TCP, 12345, two[2], 2, ZC_FLOW_CLOSE);
	/* Large. */
	run(SRC_PIPE, 64 << 20, big13, 13, 0);
	run(SRC_FILE, 64 << 20, two[1], 2, 0);
	run(SRC_SOCK, 64 << 20, two[2], 2, 0);
	k = K_TCP;
	run(SRC_TCP, 64 << 20, &k, 1, 0);
	k = K_APPEND;
	run(SRC_FILE, 64 << 20, &k, 1, 0);
	k = K_PIPE;
	run(SRC_SOCK, 64 << 20, &k, 1, 0);
	run(SRC_PIPE, 64 << 20, big13, 3, ZC_FLOW_NO_SPLICE);
out:
	remove_tmpdir();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
