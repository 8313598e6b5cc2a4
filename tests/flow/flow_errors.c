/*
 * Sinks whose readers go away: on_sink_error sees -EPIPE, the other
 * sinks get every byte; when every sink is gone the flow ends with
 * -EPIPE; a negative answer from on_sink_error ends the flow with it.
 */
#include "tutil.h"

enum { K_PIPE, K_QUIT, K_FILE, K_TCPQUIT };

struct res {
	int done_calls;
	int done_err;
	int nerr;
	int err_sink[16];
	int err_val[16];
	int answer;		/* what on_sink_error returns */
};

static void
on_done(struct zc_flow *f, int err, void *arg)
{
	struct res *r = arg;

	r->done_calls++;
	r->done_err = err;
}

static int
on_sink_error(struct zc_flow *f, int sink, int err, void *arg)
{
	struct res *r = arg;

	if (r->nerr < 16) {
		r->err_sink[r->nerr] = sink;
		r->err_val[r->nerr] = err;
	}
	r->nerr++;
	return r->answer;
}

static uint64_t seedno = 1000;

/* One case: kinds of sinks, the answer from on_sink_error; checks what
 * the caller expects: the flow's final error and that the surviving
 * sinks are exact. */
static void
run(int srck, const int *kinds, int n, int answer, int want_err,
    int use_cb)
{
	struct res res = { .answer = answer };
	struct zc_flow_opts o = {
		.on_done = on_done,
		.on_sink_error = use_cb ? on_sink_error : NULL,
		.arg = &res,
	};
	uint64_t size = 4 << 20, seed = seedno++;
	struct zc_stats st;
	struct zc_loop *loop;
	struct zc_flow *f;
	pid_t pids[16], wpid = -1;
	char paths[16][300];
	int fds[16], p[2], base, src, i, r, quits = 0;
	int before = failures;

	base = fd_count();
	src = open_source(srck, tmpdir, seed, size, &wpid);
	loop = zc_loop_new();
	f = zc_flow_new(loop, src, &o);
	if (loop == NULL || f == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		pids[i] = -1;
		paths[i][0] = 0;
		switch (kinds[i]) {
		case K_PIPE:
			if (pipe2(p, O_CLOEXEC) == -1)
				exit(1);
			fds[i] = p[1];
			pids[i] = spawn_checker(p[0], seed, size, 0, 0);
			break;
		case K_QUIT:
			if (pipe2(p, O_CLOEXEC) == -1)
				exit(1);
			fds[i] = p[1];
			pids[i] = spawn_quitter(p[0], 1000 + 70000 * i);
			quits++;
			break;
		case K_TCPQUIT:
			if (tcp_pair_buf(&p[0], &p[1], 65536) == -1)
				exit(1);
			fds[i] = p[0];
			pids[i] = spawn_quitter(p[1], 5000);
			quits++;
			break;
		case K_FILE:
			snprintf(paths[i], sizeof(paths[i]), "%s/out%d",
			    tmpdir, i);
			fds[i] = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC |
			    O_CLOEXEC, 0600);
			break;
		}
		zc_flow_add_sink(f, fds[i]);
	}
	if ((r = zc_loop_run(loop, 30000)) != 0)
		FAIL("zc_loop_run: %s", strerror(-r));
	if (res.done_calls != 1 || res.done_err != want_err)
		FAIL("on_done: %d calls, err %d, want %d", res.done_calls,
		    res.done_err, want_err);
	if (use_cb && answer == 0 && res.nerr != quits)
		FAIL("on_sink_error: %d calls, want %d", res.nerr, quits);
	for (i = 0; use_cb && i < res.nerr && i < 16; i++) {
		if (kinds[res.err_sink[i]] != K_QUIT &&
		    kinds[res.err_sink[i]] != K_TCPQUIT)
			FAIL("error on sink %d", res.err_sink[i]);
		if (res.err_val[i] != -EPIPE && res.err_val[i] != -ECONNRESET)
			FAIL("error %d on sink %d", res.err_val[i],
			    res.err_sink[i]);
	}
	for (i = 0; i < n; i++) {
		r = zc_flow_sink_stats(f, i, &st);
		if (!stats_exact(&st))
			FAIL("sink %d stats inexact", i);
		if (kinds[i] == K_QUIT || kinds[i] == K_TCPQUIT) {
			if (want_err == 0 && (r == 0 ||
			    st.err_side != ZC_SIDE_DST))
				FAIL("sink %d: err %d side %d", i, r,
				    st.err_side);
		} else if (want_err == 0 && (r != 0 || st.bytes != size)) {
			FAIL("sink %d: err %d, %llu bytes", i, r,
			    (unsigned long long)st.bytes);
		}
	}
	zc_flow_free(f);
	zc_loop_free(loop);
	close(src);
	for (i = 0; i < n; i++)
		close(fds[i]);
	if (wpid > 0 && (r = reap(wpid)) != 0 && want_err == 0)
		FAIL("writer exit %d", r);
	for (i = 0; i < n; i++) {
		r = pids[i] > 0 ? reap(pids[i]) : 0;
		if (want_err)
			continue;
		if (r != 0)
			FAIL("sink %d checker exit %d", i, r);
		if (paths[i][0] && (r = check_file(paths[i], seed, size)))
			FAIL("sink %d file check %d", i, r);
	}
	if ((r = fd_count()) != base)
		FAIL("%d descriptors open, %d before", r, base);
	if (failures != before)
		fprintf(stderr, "  in case: source %d, %d sinks, answer %d\n",
		    srck, n, answer);
}

int
main(void)
{
	static const int a[] = { K_QUIT, K_PIPE, K_FILE };
	static const int b[] = { K_PIPE, K_FILE, K_QUIT };
	static const int c[] = { K_PIPE, K_QUIT, K_QUIT, K_FILE };
	static const int d[] = { K_TCPQUIT, K_FILE };
	static const int e[] = { K_QUIT };
	static const int g[] = { K_QUIT, K_QUIT, K_TCPQUIT };
	int s;

	signal(SIGPIPE, SIG_IGN);
	make_tmpdir();
	for (s = SRC_PIPE; s <= SRC_SOCK; s++) {
		run(s, a, 3, 0, 0, 1);
		run(s, b, 3, 0, 0, 1);
		run(s, c, 4, 0, 0, 1);
		run(s, c, 4, 0, 0, 0);
		run(s, d, 2, 0, 0, 1);
		run(s, e, 1, 0, -EPIPE, 1);
		run(s, g, 3, 0, -EPIPE, 1);
		run(s, b, 3, -ECONNABORTED, -ECONNABORTED, 1);
	}
	remove_tmpdir();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
