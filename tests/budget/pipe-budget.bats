#!/usr/bin/env bats
# The pipe budget, as an ordinary user (a uid of its own, through
# setpriv): root is exempt from fs.pipe-user-pages-soft, so a suite run
# as root would never meet it. Run as root, the tests drop their privileges themselves; some
# lower fs.pipe-user-pages-soft for their duration (it is restored in
# teardown) and skip when it cannot be written. Also: every program grows
# the pipes it is handed.

load ../zcat-net/helpers

SOFT=/proc/sys/fs/pipe-user-pages-soft

setup() {
	T=$BATS_TEST_TMPDIR
	: "${ZCAT_NET:?ZCAT_NET is not set}"
	PEER=$TESTS_BUILDDIR/zcat-net/zcn-peer
	PY=$TESTS_SRCDIR/budget/budget.py
	MAX=$(cat /proc/sys/fs/pipe-max-size)
	PAGE=$(getconf PAGESIZE)
	AS=()
	U=$T
	# A python the test's user can run (not one under root's home).
	PYTHON=python3
	[ "$(id -u)" -eq 0 ] || return 0
	PYTHON=/usr/bin/python3
	[ -x "$PYTHON" ] || skip "no /usr/bin/python3"
	# A uid of the test's own rather than nobody: the kernel counts the
	# pipes of every process of a user, and other processes may run as
	# nobody.
	ZU=$((50000 + $$ % 10000))
	AS=(setpriv --reuid="$ZU" --regid="$ZU" --clear-groups --)
	# A directory of the test's own that nobody may reach and write.
	local d=$T
	while [ "$d" != / ] && [ "${d#"$BATS_RUN_TMPDIR"}" != "$d" ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	U=$T/u
	mkdir "$U"
	chmod 0777 "$U"
	stage
	"${AS[@]}" test -x "$ZCAT_NET" -a -x "$ZTEE" -a -r "$PY" ||
	    skip "the staged programs are not readable by the test's user"
}

# stage: copies the programs, the library and the test's scripts where
# the test's user can run them (a build under a home directory of mode
# 0700, as in CI, cannot be reached): the programs find the library
# beside them through their run path, $ORIGIN/../lib.
stage() {
	local s=$T/stage lib
	lib=$(dirname "$ZCOPY")/../lib
	mkdir -p "$s/cmd" "$s/lib" "$s/tests"
	cp "$ZCAT_NET" "$ZTEE" "$ZCOPY" "$s/cmd/"
	find "$lib" -maxdepth 1 -name "libzerocopy.so*" ! -type d \
	    -exec cp -P -t "$s/lib/" {} +
	cp "$PY" "$PEER" "$s/tests/"
	chmod -R a+rX "$s"
	ZCAT_NET=$s/cmd/$(basename "$ZCAT_NET")
	ZTEE=$s/cmd/$(basename "$ZTEE")
	ZCOPY=$s/cmd/$(basename "$ZCOPY")
	PY=$s/tests/$(basename "$PY")
	PEER=$s/tests/$(basename "$PEER")
	export LD_LIBRARY_PATH=$s/lib
}

teardown() {
	local f pid
	for f in "$T"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
	done
	for f in "$T"/*.pid; do
		[ -e "$f" ] || continue
		wait "$(cat "$f")" 2>/dev/null || true
	done
	if [ -s "$T/soft.old" ]; then
		cat "$T/soft.old" > "$SOFT"
		kill "$(cat "$T/guard")" 2>/dev/null || true
	fi
}

# as_user: skips unless the tests can run as an ordinary user.
as_user() {
	[ "${#AS[@]}" -gt 0 ] || skip "needs root to become an ordinary user"
}

# lower_soft PAGES: fs.pipe-user-pages-soft is PAGES until teardown; sets
# BUDGET, the bytes of owned pipes a loop may hold (half of it).
lower_soft() {
	as_user
	local old
	old=$(cat "$SOFT" 2>/dev/null) || skip "no $SOFT"
	{ echo "$old" > "$SOFT"; } 2>/dev/null || skip "$SOFT is read-only"
	echo "$old" > "$T/soft.old"
	# Restored by teardown; should the test be killed before, by a guard
	# once the test's shell is gone, or after 120 s at the latest.
	setsid sh -c 'i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 240 ]
	    do sleep 0.5; i=$((i + 1)); done; cat "$2" > "$3"' \
	    guard "$$" "$T/soft.old" "$SOFT" < /dev/null > /dev/null 2>&1 3>&- &
	echo $! > "$T/guard"
	echo "$1" > "$SOFT"
	BUDGET=$(($1 * PAGE / 2))
}

# field LINE NAME: the value of NAME=VALUE in LINE.
field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# start_relay: an echo server and "zcat-net -k" relaying to it, both as
# the test's user; sets RPORT and RPID.
start_relay() {
	bg srv 60 "${AS[@]}" "$PEER" echo "$U/srv.port"
	wait_file "$U/srv.port"
	EPORT=$(cat "$U/srv.port")
	bg rl 60 "${AS[@]}" "$ZCAT_NET" -v -k listen:127.0.0.1:0 \
	    "127.0.0.1:$EPORT"
	zlistening rl
	RPORT=$(sed -n 's/^Listening on .* \([0-9][0-9]*\)$/\1/p' \
	    "$T/rl.err" | head -n 1)
	RPID=$(child_of rl)
}

@test "relay: 200 connections, most idle, byte-exact inside the pipe budget" {
	lower_soft 1024
	start_relay
	run timeout 60 "${AS[@]}" "$PYTHON" "$PY" relay "$RPID" "$RPORT" 200 \
	    $((64 << 20))
	echo "$output"
	[ "$status" -eq 0 ]
	idle=$(echo "$output" | grep '^idle ')
	big=$(echo "$output" | grep '^big ')
	# Idle connections hold no pipe: what is left is the pool's spares,
	# inside the budget.
	[ "$(field "$idle" pipes)" -le 2 ]
	[ "$(field "$idle" bytes)" -le "$BUDGET" ]
	# A busy connection among them: full-size pipes, inside the budget.
	[ "$(field "$big" ok)" -eq 1 ]
	[ "$(field "$big" max)" -eq "$MAX" ]
	[ "$(field "$big" bytes)" -le "$BUDGET" ]
	echo "$output" | grep -qx 'exact=1'
	kill "$(cat "$T/rl.pid")"
	reap rl
	! grep -i 'error' "$T/rl.err"
}

@test "relay: a fresh connection while 60 others are idle gets full-size pipes" {
	as_user
	start_relay
	run timeout 60 "${AS[@]}" "$PYTHON" "$PY" relay "$RPID" "$RPORT" 60 \
	    $((64 << 20))
	echo "$output"
	[ "$status" -eq 0 ]
	idle=$(echo "$output" | grep '^idle ')
	big=$(echo "$output" | grep '^big ')
	[ "$(field "$idle" pipes)" -le 2 ]
	[ "$(field "$big" ok)" -eq 1 ]
	[ "$(field "$big" max)" -eq "$MAX" ]
	[ "$(field "$big" min)" -gt $((2 * PAGE)) ]
	echo "$output" | grep -qx 'exact=1'
}

@test "ztee: 100 outputs as an ordinary user, byte-exact inside the pipe budget" {
	lower_soft 4096
	head -c $((2 << 20)) /dev/urandom > "$U/in"
	mkfifo -m 0666 "$U/fifo"
	outs=()
	for i in $(seq 100); do
		outs+=("$U/o$i")
	done
	# The FIFO's pipe is the test user's: the kernel counts a pipe's
	# pages against the user who opened it first.
	bg zt 30 "${AS[@]}" sh -c 'f=$1; shift; exec "$0" "$@" < "$f"' \
	    "$ZTEE" "$U/fifo" "${outs[@]}"
	bg feed 30 "${AS[@]}" sh -c \
	    "exec '$PYTHON' '$PY' slowcat '$U/in' 65536 20 > '$U/fifo'"
	for i in $(seq 250); do
		pid=$(child_of zt)
		[ -n "$pid" ] && break
		sleep 0.02
	done
	[ -n "$pid" ]
	run timeout 30 "${AS[@]}" "$PYTHON" "$PY" watch "$pid"
	echo "$output"
	reap zt
	reap feed
	cat "$T/zt.err" "$T/feed.err"
	[ "$(rc_of zt)" -eq 0 ]
	[ "$(rc_of feed)" -eq 0 ]
	sum=$(sum_of "$U/in")
	for o in "${outs[@]}"; do
		[ "$(sum_of "$o")" = "$sum" ]
	done
	# The round pipes it owns fit the budget, and none is a capped one
	# (files past a few are written from the round's buffer, so there
	# may be none at all).
	[ "$(field "$output" bytes)" -le "$BUDGET" ]
	[ "$(field "$output" pipes)" -eq 0 ] ||
	    [ "$(field "$output" min)" -ge 65536 ]
}

# pipe_size PATH: the capacity of the FIFO at PATH (open elsewhere).
pipe_size() {
	python3 -c 'import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
print(fcntl.fcntl(fd, 1032))' "$1"
}

# grown NAME: waits until both FIFOs in and out are pipe-max-size, or
# the job NAME ended.
grown() {
	local i
	for i in $(seq 100); do
		[ "$(pipe_size "$U/in")" -eq "$MAX" ] &&
		    [ "$(pipe_size "$U/out")" -eq "$MAX" ] && return 0
		sleep 0.02
	done
	echo "in $(pipe_size "$U/in"), out $(pipe_size "$U/out"): $(cat "$T/$1.err")" >&2
	return 1
}

# hold_fifos: in and out, held open by a writer and a reader of the
# test's user (the kernel counts a pipe's pages against the user who
# opened it first, and root's pipes may be many) that stay quiet for a
# while.
hold_fifos() {
	local name pid i
	mkfifo -m 0666 "$U/in" "$U/out"
	bg w 20 "${AS[@]}" sh -c 'exec sleep 10 <> "$0"' "$U/in"
	bg r 20 "${AS[@]}" sh -c 'exec sleep 10 <> "$0"' "$U/out"
	for name in w:in r:out; do
		for i in $(seq 250); do
			pid=$(child_of "${name%:*}")
			[ -n "$pid" ] && [ "$(readlink "/proc/$pid/fd/0" \
			    2>/dev/null)" = "$U/${name#*:}" ] && break
			sleep 0.02
		done
	done
	[ "$(pipe_size "$U/in")" -eq 65536 ]
	[ "$(pipe_size "$U/out")" -eq 65536 ]
}

@test "ztee grows the pipes it is handed, as zcopy does" {
	hold_fifos
	IN=$U/in OUT=$U/out bg zt 20 "${AS[@]}" "$ZTEE" /dev/null
	grown zt
}

@test "zcat-net grows the pipes it is handed" {
	bg srv 30 "${AS[@]}" "$PEER" echo "$U/srv.port"
	wait_file "$U/srv.port"
	hold_fifos
	IN=$U/in OUT=$U/out bg zn 20 "${AS[@]}" "$ZCAT_NET" 127.0.0.1 \
	    "$(cat "$U/srv.port")"
	grown zn
}

@test "zcopy grows the pipes it is handed" {
	hold_fifos
	IN=$U/in OUT=$U/out bg zc 20 "${AS[@]}" "$ZCOPY"
	grown zc
}

@test "zcopy: an owned pipe capped at 2 pages is not spliced through" {
	# At 1 page every new pipe of the user's gets 2 pages.
	lower_soft 1
	head -c $((3 << 20)) /dev/urandom > "$U/in"
	run timeout 20 "${AS[@]}" "$PYTHON" "$PY" sockfeed "$U/in" \
	    "$ZCOPY" -v fd:3 "$U/out"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$U/in" "$U/out"
	[[ "$output" == *": read-write 3145728" ]]
}
