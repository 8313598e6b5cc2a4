#!/usr/bin/env bats
# ztee's I/O: sockets as input and outputs, slow and non-blocking readers,
# short writes, injected EINTR and EAGAIN, big inputs. Every output is
# checked byte for byte.

load helpers

mkdata() {
	head -c "$2" /dev/urandom >"$1"
}

@test "stdin a TCP socket: 0 B, 1 B, 1 MiB+1 to a pipe and files" {
	for n in 0 1 1048577; do
		mkdata in "$n"
		python3 "$SOCKIO" stdin tcp in "$ZTEE" f1 f2 | cat >out
		same in out f1 f2
	done
}

@test "stdin a unix socket: 1 MiB+1 to a file and a pipe" {
	mkdata in 1048577
	python3 "$SOCKIO" stdin unix in "$ZTEE" f1 >out
	same in out f1
}

@test "outputs: pipe, file, O_APPEND file, TCP and unix listeners" {
	need_ztee
	mkdata in 1048577
	echo old >app
	{ echo old; cat in; } >want
	listener tcp - tcp.out
	tport=$PORT
	listener unix "$PWD/u.sock" unix.out
	cat in | "$ZTEE" f1 fd:5 "127.0.0.1:$tport" "unix:$PWD/u.sock" 5>>app |
	    cat >out
	wait_listeners
	same in out f1 tcp.out unix.out
	same want app
}

@test "outputs: 0 B to sockets; tcp:localhost:PORT form" {
	need_ztee
	for n in 0; do
		mkdata in "$n"
		listener tcp - tcp.out
		tport=$PORT
		listener unix "$PWD/u$n.sock" unix.out
		"$ZTEE" "tcp:localhost:$tport" "unix:$PWD/u$n.sock" <in >out 2>err ||
		    { cat err; false; }
		wait_listeners
		same in out tcp.out unix.out
	done
}

@test "a socket output read slowly (short writes) loses nothing" {
	need_ztee
	mkdata in 1048577
	listener tcp - tcp.out 16384 2
	"$ZTEE" f1 "127.0.0.1:$PORT" <in >out
	wait_listeners
	same in out f1 tcp.out
}

@test "standard output a small-buffer socket read slowly loses nothing" {
	mkdata in 1048577
	timeout 60 python3 "$SOCKIO" slowout out 1000 0.5 "$ZTEE" f1 <in
	same in out f1
}

@test "a slow pipe reader and a fast file: all exact, no hang" {
	mkdata in 1048577
	cat in | timeout 60 "$ZTEE" fast |
	    timeout 60 python3 "$SOCKIO" slowcat 4096 1 >out
	same in out fast
}

@test "two slow pipe readers of different speeds" {
	mkdata in 1048577
	cat in | timeout 60 "$ZTEE" >(python3 "$SOCKIO" slowcat 65536 5 >o2) |
	    timeout 60 python3 "$SOCKIO" slowcat 4096 1 >out
	for i in $(seq 50); do [ "$(stat -c %s o2)" = 1048577 ] && break; sleep 0.1; done
	same in out o2
}

@test "non-blocking standard output (EAGAIN) loses nothing" {
	mkdata in 2097153
	cat in | python3 "$SOCKIO" nonblock timeout 60 "$ZTEE" f1 |
	    { sleep 0.3; cat; } >out
	same in out f1
	python3 "$SOCKIO" nonblock timeout 60 "$ZTEE" f1 <in |
	    python3 "$SOCKIO" slowcat 65536 1 >out
	same in out f1
}

# inject ERRNO SYSCALLS CMD...: every other call from the second on fails.
inject() {
	local err=$1 calls=$2
	shift 2
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    timeout 60 strace -f -o /dev/null -e trace=write,splice,tee,read \
	    -e inject="$calls":error="$err":when=2+2 "$@"
}

@test "EINTR injected into write, splice and tee loses nothing" {
	command -v strace >/dev/null || skip "no strace"
	mkdata in 1048577
	cat in | inject EINTR write,splice,tee "$ZTEE" f1 f2 2>err | cat >out
	[ ! -s err ] || { cat err; false; }
	same in out f1 f2
	inject EINTR write,splice,tee "$ZTEE" f1 <in >out 2>err ||
	    { cat err; false; }
	same in out f1
}

@test "EINTR injected with --no-splice loses nothing" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 1048577
	# The dynamic loader's few reads come first: start later for read.
	cat in | ASAN_OPTIONS=detect_leaks=0 \
	    timeout 60 strace -f -o /dev/null -e trace=write,read \
	    -e inject=write:error=EINTR:when=2+2 \
	    -e inject=read:error=EINTR:when=12+2 \
	    "$ZTEE" --no-splice f1 2>err | cat >out
	[ ! -s err ] || { cat err; false; }
	same in out f1
}

@test "EAGAIN injected into write and splice loses nothing" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 1048577
	cat in | inject EAGAIN write,splice "$ZTEE" f1 f2 2>err | cat >out
	[ ! -s err ] || { cat err; false; }
	same in out f1 f2
	inject EAGAIN write,splice "$ZTEE" f1 <in >out 2>err ||
	    { cat err; false; }
	same in out f1
}

# EAGAIN from tee(2) into the engine's own empty pipe, on the second tee of
# a round: the bytes are still at the head of the source, so it retries.
@test "EAGAIN injected into tee loses nothing" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 1048577
	cat in | inject EAGAIN tee "$ZTEE" f1 f2 2>err | cat >out
	[ ! -s err ] || { cat err; false; }
	same in out f1 f2
}

@test "GNU's EAGAIN case: one EAGAIN on the first write (tests/tee)" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	echo a >in
	ASAN_OPTIONS=detect_leaks=0 \
	    timeout 10 strace -o /dev/null -e inject=write:error=EAGAIN:when=1 \
	    "$ZTEE" f1 <in >out 2>err
	same in out f1
	[ ! -s err ]
}

gen_gib() {
	local i
	for i in $(seq 64); do cat part; done
}

@test "1 GiB through a pipe to a pipe and a file" {
	need_ztee
	mkdata part 16777216
	gen_gib | "$ZTEE" f1 | cmp - <(gen_gib)
	cmp f1 <(gen_gib)
	[ "$(stat -c %s f1)" = 1073741824 ]
}
