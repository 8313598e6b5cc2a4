#!/usr/bin/env bats
# Faults injected with strace: the fallbacks deliver the same bytes and
# zcopy exits 0; -v shows that the fallback really happened.

load common
load xfer

setup_file() {
	mkdata "$BATS_FILE_TMPDIR/d" 10485761
	mkdata "$BATS_FILE_TMPDIR/s" 1048577
}

setup() {
	command -v strace >/dev/null || skip "strace not installed"
	T=$BATS_TEST_TMPDIR
	D=$BATS_FILE_TMPDIR/d
	S=$BATS_FILE_TMPDIR/s
	REAL=$ZCOPY
	ZCOPY=$T/zcopy-strace
	# LeakSanitizer cannot run under ptrace (the sanitizer build).
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	printf '#!/bin/sh\nexec strace -f -o /dev/null -e inject="$INJECT" "%s" "$@"\n' \
	    "$REAL" >"$ZCOPY"
	chmod +x "$ZCOPY"
}

teardown() {
	kill_peers
}

# fault INJECT SRC_KIND DST_KIND DATA [OPTION...]: check_xfer under
# strace -e inject=INJECT.
fault() {
	INJECT=$1
	export INJECT
	shift
	check_xfer "$@"
	echo "$INJECT $1 -> $2: $STATS_LINE"
}

@test "splice fails with ENOSYS or EINVAL: read/write does it all" {
	for e in ENOSYS EINVAL; do
		for p in "pipe file" "file pipe" "pipe pipe" "tcp file" \
		    "unix pipe" "pipe tcp"; do
			fault "splice:error=$e" $p "$S"
			[ "${STATS[splice]:-0}" -eq 0 ]
			[ "${STATS[splice-pipe]:-0}" -eq 0 ]
		done
	done
}

@test "splice fails mid-stream: what moved stays, the rest by read/write" {
	for e in ENOSYS EINVAL; do
		for p in "pipe file" "pipe pipe" "tcp file" "pipe unix"; do
			fault "splice:error=$e:when=3" $p "$D"
			[ "${STATS[read-write]:-0}" -gt 0 ]
		done
	done
	# at least one of them spliced before the fault
	fault "splice:error=EINVAL:when=3" pipe file "$D"
	[ "${STATS[splice]:-0}" -gt 0 ]
}

@test "sendfile fails with ENOSYS or EINVAL, at once and mid-stream" {
	for e in ENOSYS EINVAL; do
		for p in "file pipe" "file tcp" "file null"; do
			fault "sendfile:error=$e" $p "$S"
			[ "${STATS[sendfile]:-0}" -eq 0 ]
			fault "sendfile:error=$e:when=3" $p "$D"
			[ "${STATS[sendfile]:-0}" -gt 0 ]
		done
	done
}

@test "copy_file_range fails with ENOSYS, EINVAL or EXDEV" {
	for e in ENOSYS EINVAL EXDEV EOPNOTSUPP; do
		fault "copy_file_range:error=$e" file file "$S"
		[ "${STATS[copy_file_range]:-0}" -eq 0 ]
		fault "copy_file_range:error=$e:when=2" file file "$D"
	done
}

@test "tee fails with ENOSYS or EINVAL: nothing changes" {
	for e in ENOSYS EINVAL; do
		fault "tee:error=$e" pipe pipe "$S"
		fault "tee:error=$e" file pipe "$S"
	done
}

@test "no pipe to be had (pipe2 fails with EMFILE): read/write" {
	for p in "tcp file" "file tcp" "tcp unix" "unix null"; do
		fault "pipe2:error=EMFILE" $p "$S"
		[ "${STATS[splice-pipe]:-0}" -eq 0 ]
	done
}

@test "EINTR and EAGAIN on write, read and splice are retried" {
	# the dynamic loader reads the libraries first: skip those reads
	strace -f -o "$T/tr" -e trace=read "$REAL" --no-splice </dev/null \
	    >/dev/null
	skip=$(grep -c 'read(' "$T/tr")
	for e in EINTR EAGAIN; do
		for when in 1 2 3 2..6; do
			if [[ $when == *..* ]]; then
				r=$((skip + 2))..$((skip + 6))
			else
				r=$((skip + when))
			fi
			fault "write:error=$e:when=$when" pipe file "$S" \
			    --no-splice
			fault "write:error=$e:when=$when" file tcp "$S" \
			    --no-splice
			fault "read:error=$e:when=$r" pipe file "$S" \
			    --no-splice
			fault "splice:error=$e:when=$when" pipe file "$S"
			fault "splice:error=$e:when=$when" tcp pipe "$S"
			fault "sendfile:error=$e:when=$when" file pipe "$S"
			fault "copy_file_range:error=$e:when=$when" file \
			    file "$S"
		done
	done
}

@test "short writes to sockets with a small buffer and a slow reader" {
	ZCOPY=$REAL
	for mode in "" --no-splice; do
		for kind in unix tcp; do
			rm -f "$T/out"
			port=$(free_port)
			if [[ $kind == unix ]]; then
				listen=UNIX-LISTEN:$T/sock,rcvbuf=4096
			else
				listen=TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,rcvbuf=4096
			fi
			peer sh -c 'socat -u -b 4096 "$1" STDOUT |
			    pv -q -L 4m >"$2"' sh "$listen" "$T/out"
			if [[ $kind == unix ]]; then
				wait_unix "$T/sock"
				dst=$T/sock
			else
				wait_tcp "$port"
				dst=127.0.0.1:$port
			fi
			timeout 60 "$ZCOPY" -v $mode "$S" "$dst" 2>"$T/err"
			wait_peers
			same "$T/out" "$S"
			check_stats "$T/err" 1048577
		done
	done
}
