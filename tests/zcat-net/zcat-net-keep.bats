#!/usr/bin/env bats
# zcat-net -k keeps serving: accept errors of connections already gone
# are skipped, a shortage of descriptors pauses the listener with at most
# one line a second.

load helpers

# 64 MiB in which every 8-byte word is its offset, made once for the
# tests that share standard input between clients.
setup_file() {
	python3 "$TESTS_SRCDIR/zcat-net/takers.py" gen 67108864 \
	    "$BATS_FILE_TMPDIR/in"
}

# traced NAME ERRNO WHEN ARGS...: "zcat-net -v ARGS" in the background
# with accept4 failing with ERRNO at the calls WHEN (strace -e inject).
traced() {
	local name=$1 e=$2 when=$3
	shift 3
	command -v strace > /dev/null || skip "no strace"
	# LeakSanitizer cannot run under ptrace.
	bg "$name" 60 env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -qq --seccomp-bpf -o /dev/null -e trace=accept4 \
	    -e "inject=accept4:error=$e:when=$when" "$ZCAT_NET" -v "$@"
	zlistening "$name"
	RPORT=$(sed -n 's/^Listening on .* \([0-9][0-9]*\)$/\1/p' \
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
	[ "$(grep -c 'Connection received on' "$T/rl.err")" -eq 3 ]
	run grep -v -e '^Listening on' -e '^Connection received on' -e '^Connection to' \
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
		[ "$(grep -c ', received ' "$T/zl.err")" -eq 2 ] && break
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
		[ "$(grep -c ', received ' "$T/zl.err")" -eq 2 ] && break
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
	[ "$(grep -c 'Connection received on' "$T/zl.err")" -eq 2 ]
}

# share HOW PLAN [ARGS...]: "zcat-net -v -k ARGS -l 127.0.0.1 0" (or, for
# HOW unix, on a unix socket) with 64 MiB of standard input from a file
# (HOW file, unix) or a pipe (HOW pipe), and clients one after another as
# PLAN says (see takers.py): what they got, one after another, is the
# input, each byte once; the relay sent 64 MiB in all.
share() {
	local how=$1 plan=$2 addr sent n i
	shift 2
	ln -s "$BATS_FILE_TMPDIR/in" "$T/in"
	case $how in
	pipe)
		mkfifo "$T/fifo"
		IN=$T/fifo OUT=$T/out bg zl 60 "$ZCAT_NET" -v -k "$@" \
		    -l 127.0.0.1 0
		OUT=$T/fifo bg feed 60 cat "$T/in"
		;;
	unix)
		IN=$T/in OUT=$T/out bg zl 60 "$ZCAT_NET" -v -k "$@" \
		    unix-listen:"$T/sock"
		;;
	*)
		IN=$T/in OUT=$T/out bg zl 60 "$ZCAT_NET" -v -k "$@" \
		    -l 127.0.0.1 0
		;;
	esac
	if [ "$how" = unix ]; then
		zlistening zl
		addr=$T/sock
	else
		addr=127.0.0.1:$(zport zl)
	fi
	timeout 60 python3 "$TESTS_SRCDIR/zcat-net/takers.py" run "$addr" \
	    "$T/got" "$plan" > "$T/log"
	cat "$T/log"
	python3 "$TESTS_SRCDIR/zcat-net/takers.py" check 67108864 "$T/got" \
	    "$T/log"
	# Every connection has ended (its summary line) before the stop.
	n=$(tr , '\n' <<<"$plan" | wc -l)
	for i in $(seq 200); do
		[ "$(grep -c ': sent ' "$T/zl.err")" -eq "$n" ] && break
		sleep 0.05
	done
	sent=$(sed -n 's/.*: sent \([0-9]*\) bytes.*/\1/p' "$T/zl.err" |
	    awk '{ n += $1 } END { print n }')
	[ "$sent" -eq 67108864 ]
	kill "$(cat "$T/zl.pid")"
	reap zl
	[ -s "$T/out" ] && return 1
	return 0
}

# Twelve clients that half-close after 1 MiB and more, then one to the
# end.
HALF=h1000000,h1377777,h0,h1755554,h2133331,h65536,h2510000,h1,h3000000,h777777,h1234567,h4000000,e

@test "-k -l: clients that half-close and go get all of standard input (a file)" {
	share file "$HALF"
	[ "$(rc_of zl)" -eq 0 ]
	cmp "$T/in" "$T/got"
}

@test "-k -l: clients that half-close and go get all of standard input (a pipe)" {
	share pipe "$HALF"
	[ "$(rc_of zl)" -eq 0 ]
	cmp "$T/in" "$T/got"
	reap feed
	[ "$(rc_of feed)" -eq 0 ]
}

@test "-k -l --no-splice: clients that half-close and go get all of standard input" {
	share file "$HALF" --no-splice
	[ "$(rc_of zl)" -eq 0 ]
	cmp "$T/in" "$T/got"
}

@test "-k -l --splice-tcp: clients that half-close and go get all of standard input" {
	share file "$HALF" --splice-tcp
	[ "$(rc_of zl)" -eq 0 ]
	cmp "$T/in" "$T/got"
}

@test "-k unix-listen: clients that half-close and go get all of standard input" {
	share unix "$HALF"
	[ "$(rc_of zl)" -eq 0 ]
	cmp "$T/in" "$T/got"
}

@test "-k -l: clients that close with bytes unread: nothing repeated, nothing lost in zcat-net" {
	# A client that closes with bytes unread resets the connection: what
	# the kernel held for it is gone (as with nc, a peer that closed is
	# no error: status 0), but zcat-net sends every byte once, and after
	# a client that half-closes the next one starts exactly where it
	# stopped.
	share file h1000000,c2000000,h0,c0,h3000000,c1,h500000,c65536,e
	[ "$(rc_of zl)" -eq 0 ]
	! grep -q 'Connection reset by peer' "$T/zl.err"
}
