#!/usr/bin/env bats
# zcat-net -k keeps serving: accept errors of connections already gone
# are skipped, a shortage of descriptors pauses the listener with at most
# one line a second.

load helpers

# traced NAME ERRNO WHEN ARGS...: "zcat-net -v ARGS" in the background
# with accept4 failing with ERRNO at the calls WHEN (strace -e inject).
traced() {
	local name=$1 e=$2 when=$3
	shift 3
	command -v strace > /dev/null || skip "no strace"
	bg "$name" 60 strace -f -qq -o /dev/null -e trace=accept4 \
	    -e "inject=accept4:error=$e:when=$when" "$ZCAT_NET" -v "$@"
	zlistening "$name"
	RPORT=$(sed -n 's/.*: listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/$name.err" | head -n 1)
}

# gone_errno ERRNO: a -k relay whose first accepts fail with ERRNO goes
# on serving: three clients get their bytes echoed, exact, and it exits
# 0 on SIGTERM with nothing said about the failures.
gone_errno() {
	local i
	echo_server srv
	traced rl "$1" 1..3 -k listen:127.0.0.1:0 "127.0.0.1:$EPORT"
	for i in 1 2 3; do
		head -c $((100000 * i + 7)) /dev/urandom > "$T/req$i"
		run timeout 20 sh -c "'$ZCAT_NET' 127.0.0.1 $RPORT < '$T/req$i' > '$T/resp$i'"
		[ "$status" -eq 0 ]
		cmp "$T/req$i" "$T/resp$i"
	done
	kill -0 "$(cat "$T/rl.pid")"
	kill "$(cat "$T/rl.pid")"
	reap rl
	[ "$(rc_of rl)" -eq 0 ]
	[ "$(grep -c 'connection from' "$T/rl.err")" -eq 3 ]
	run grep -v -e 'listening on' -e 'connection from' -e 'connected to' \
	    -e 'bytes back' "$T/rl.err"
	[ "$status" -eq 1 ]
}

@test "-k relay: accept failing with ECONNABORTED, later clients served" {
	gone_errno ECONNABORTED
}

@test "-k relay: accept failing with EPERM (a firewall), later clients served" {
	gone_errno EPERM
}

@test "-k relay: accept failing with EPROTO, later clients served" {
	gone_errno EPROTO
}

@test "-k -l: accept failing with ENETUNREACH, the next clients into stdout" {
	OUT=$T/all traced zl ENETUNREACH 1 -k -l 127.0.0.1 0
	printf 'first\n' | timeout 10 "$ZCAT_NET" 127.0.0.1 "$RPORT" > /dev/null
	printf 'second\n' | timeout 10 "$ZCAT_NET" 127.0.0.1 "$RPORT" > /dev/null
	for i in $(seq 100); do
		[ "$(grep -c 'received 7 bytes' "$T/zl.err")" -eq 2 ] && break
		sleep 0.05
	done
	kill "$(cat "$T/zl.pid")"
	reap zl
	[ "$(rc_of zl)" -eq 0 ]
	printf 'first\nsecond\n' | cmp - "$T/all"
}

@test "-k -l: EMFILE 30 times pauses the listener, at most one line a second" {
	local t0 t1 secs lines total
	OUT=$T/all traced zl EMFILE 1..30 -k -l 127.0.0.1 0
	t0=$(date +%s%N)
	printf 'first\n' | timeout 20 "$ZCAT_NET" 127.0.0.1 "$RPORT" > /dev/null
	t1=$(date +%s%N)
	printf 'second\n' | timeout 10 "$ZCAT_NET" 127.0.0.1 "$RPORT" > /dev/null
	for i in $(seq 100); do
		[ "$(grep -c 'received 7 bytes' "$T/zl.err")" -eq 2 ] && break
		sleep 0.05
	done
	kill "$(cat "$T/zl.pid")"
	reap zl
	# A shortage is an error in the exit status.
	[ "$(rc_of zl)" -eq 1 ]
	printf 'first\nsecond\n' | cmp - "$T/all"
	# Each line stands for itself and the ones it says were not shown:
	# 30 in all, in at most one line a second (the pause is 100 ms).
	secs=$(((t1 - t0) / 1000000000))
	lines=$(grep -c "^zcat-net: spec '127.0.0.1:0': Too many open files" "$T/zl.err")
	total=$(sed -n 's/.*Too many open files (\([0-9]*\) more not shown)$/\1/p' \
	    "$T/zl.err" | awk -v n="$lines" '{ n += $1 } END { print n }')
	echo "$secs s, $lines lines, $total failures"
	[ "$total" -eq 30 ]
	[ "$lines" -ge 2 ]
	[ "$lines" -le $((secs + 2)) ]
	[ "$(grep -c 'connection from' "$T/zl.err")" -eq 2 ]
}
