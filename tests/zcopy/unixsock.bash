# The life of a unix-listen socket file, the same for zcopy, ztee and
# zcat-net -lU: a second listener on a live path, a stale file, a file
# replaced under a running listener, a symbolic link, a regular file, and
# a liveness probe that fails. A bats file loads this and defines:
#
#   serve NAME PATH    starts the program in the background (with bg) as a
#                      one-shot listener on PATH for the transfer NAME
#   client NAME PATH   the client of transfer NAME, in the foreground
#   second PATH        the program as a second listener on PATH, in the
#                      foreground (run it with "run"), under timeout and
#                      after the words of the array WRAP
#   check NAME         fails unless transfer NAME moved $T/in exactly
#   SPEC PATH          prints how the program's messages name PATH
#
# $T is the test's own temporary directory; background jobs are bounded
# by timeout and killed in teardown.

bats_require_minimum_version 1.5.0
WRAP=()

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
	head -c 1048577 /dev/urandom >"$T/in"
}

teardown() {
	local f
	for f in "$T"/*.pid; do
		[ -e "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
		wait "$(cat "$f")" 2>/dev/null || true
	done
}

sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# Fails unless FILE has the bytes of $T/in.
same_as_in() {
	[ -f "$1" ] || { echo "missing: $1" >&2; return 1; }
	[ "$(sha "$1")" = "$(sha "$T/in")" ] ||
		{ echo "$1: $(stat -c %s "$1") bytes, not those of in" >&2;
		return 1; }
}

# bg NAME CMD...: CMD under timeout in the background, stdin from $IN
# (default /dev/null), stdout to $OUT (default $T/NAME.out), stderr to
# $T/NAME.err; holds no pipe of bats open.
bg() {
	local name=$1
	shift
	timeout -k 5 30 "$@" <"${IN:-/dev/null}" >"${OUT:-$T/$name.out}" \
	    2>"$T/$name.err" 3>&- &
	echo $! >"$T/$name.pid"
}

# reap NAME: waits for job NAME; sets RC to its exit status.
reap() {
	RC=0
	wait "$(cat "$T/$1.pid")" || RC=$?
	rm -f "$T/$1.pid"
	echo "$1: status $RC, stderr: $(cat "$T/$1.err")"
}

# The pid of the program that timeout runs for job NAME.
prog_pid() {
	local tpid i p
	tpid=$(cat "$T/$1.pid")
	for ((i = 0; i < 100; i++)); do
		p=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null) || true
		p=${p%% *}
		if [ -n "$p" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.02
	done
	echo "no program under job $1" >&2
	return 1
}

# wait_listen PATH [N]: waits (at most ~10 s) until N (1) sockets listen
# on PATH as bound.
wait_listen() {
	local i n
	for ((i = 0; i < 500; i++)); do
		n=$(ss -Hlx src "$1" | wc -l)
		[ "$n" -ge "${2:-1}" ] && return 0
		sleep 0.02
	done
	echo "nothing listens on $1" >&2
	return 1
}

# Fails unless the last "run" failed with status 1 and one message
# saying WHY about PATH.
refused() {
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "$(SPEC "$1"): $2" ]
}

# A second listener on a live path fails at once, and the first still
# gets its own client's bytes, exits 0 and removes its socket file.
live_path() {
	serve a "$T/L"
	wait_listen "$T/L"
	ino=$(stat -c %i "$T/L")
	run --separate-stderr second "$T/L"
	refused "$T/L" "Address already in use"
	[ -S "$T/L" ]
	[ "$(stat -c %i "$T/L")" = "$ino" ]
	client a "$T/L"
	reap a
	[ "$RC" -eq 0 ]
	check a
	[ ! -e "$T/L" ]
}

# A socket file left by a listener killed with SIGKILL is replaced.
stale_path() {
	serve k "$T/L"
	wait_listen "$T/L"
	kill -KILL "$(prog_pid k)"
	reap k
	[ "$RC" -eq 137 ]
	[ -S "$T/L" ]
	serve a "$T/L"
	wait_listen "$T/L"
	client a "$T/L"
	reap a
	[ "$RC" -eq 0 ]
	check a
	[ ! -e "$T/L" ]
}

# A listener whose socket file was moved away (its client still reaches
# it there) and replaced by another listener's leaves the new one alone.
replaced_path() {
	serve a "$T/L"
	wait_listen "$T/L"
	mv "$T/L" "$T/L.old"
	serve b "$T/L"
	wait_listen "$T/L" 2
	ino=$(stat -c %i "$T/L")
	client a "$T/L.old"
	reap a
	[ "$RC" -eq 0 ]
	check a
	[ -S "$T/L" ]
	[ "$(stat -c %i "$T/L")" = "$ino" ]
	client b "$T/L"
	reap b
	[ "$RC" -eq 0 ]
	check b
	[ ! -e "$T/L" ]
}

# A symbolic link at the path is not followed and not removed, whether
# it points nowhere, to a stale socket or to a live one.
symlink_path() {
	ln -s "$T/nowhere" "$T/L"
	run --separate-stderr second "$T/L"
	refused "$T/L" "File exists"
	[ "$(readlink "$T/L")" = "$T/nowhere" ]
	rm "$T/L"

	serve k "$T/S"
	wait_listen "$T/S"
	kill -KILL "$(prog_pid k)"
	reap k
	ino=$(stat -c %i "$T/S")
	ln -s "$T/S" "$T/L"
	run --separate-stderr second "$T/L"
	refused "$T/L" "File exists"
	[ "$(readlink "$T/L")" = "$T/S" ]
	[ -S "$T/S" ]
	[ "$(stat -c %i "$T/S")" = "$ino" ]
	rm "$T/L" "$T/S"

	serve a "$T/S"
	wait_listen "$T/S"
	ln -s "$T/S" "$T/L"
	run --separate-stderr second "$T/L"
	refused "$T/L" "File exists"
	[ "$(readlink "$T/L")" = "$T/S" ]
	client a "$T/S"
	reap a
	[ "$RC" -eq 0 ]
	check a
}

# A regular file at the path is refused and left as it was.
file_path() {
	printf 'not a socket\n' >"$T/L"
	want=$(sha "$T/L")
	run --separate-stderr second "$T/L"
	refused "$T/L" "File exists"
	[ -f "$T/L" ]
	[ "$(sha "$T/L")" = "$want" ]
}

# When the probe cannot tell whether a socket holds the file (here its
# connect(2) is refused by an injected EACCES), the file is not removed.
probe_fails() {
	command -v strace >/dev/null || skip "no strace"
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
	serve k "$T/L"
	wait_listen "$T/L"
	kill -KILL "$(prog_pid k)"
	reap k
	ino=$(stat -c %i "$T/L")
	# LeakSanitizer cannot run under ptrace.
	WRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	    strace -f -qq -o /dev/null -e trace=connect
	    -e inject=connect:error=EACCES)
	run --separate-stderr second "$T/L"
	WRAP=()
	refused "$T/L" "Permission denied"
	[ -S "$T/L" ]
	[ "$(stat -c %i "$T/L")" = "$ino" ]
}
