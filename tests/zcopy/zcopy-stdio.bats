#!/usr/bin/env bats
# Descriptors 0, 1 and 2 closed one at a time, and quoted text in
# messages: nothing opened later takes a closed descriptor's place.

load common

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T"
	printf 'hello\n' >in
}

teardown() {
	kill_peers
}

# closed FD CMD...: runs CMD (for at most 10 s) with descriptor FD closed.
# Inside run, for a bare "<&-" would let run's own capture pipe take fd 0.
closed() {
	local fd=$1
	shift
	case $fd in
	0) timeout 10 "$@" <&- ;;
	1) timeout 10 "$@" >&- ;;
	2) timeout 10 "$@" 2>&- ;;
	esac
}

@test "stderr closed: -v writes no stats line into the output" {
	timeout 10 "$ZCOPY" -v - out <in 2>&-
	[ "$(sha out)" = "$(sha in)" ]
}

@test "stderr closed: a read error is not written into the output" {
	mkdir d
	run closed 2 "$ZCOPY" - out <d
	[ "$status" -eq 1 ]
	[ -f out ] && [ ! -s out ]
}

@test "stderr closed: a TCP receiver gets only the bytes" {
	port=$(free_port)
	peer_to got "$ZCOPY" -w 10 "listen:127.0.0.1:$port" -
	wait_tcp "$port"
	timeout 10 "$ZCOPY" -v - "127.0.0.1:$port" <in 2>&-
	wait_peers
	[ "$(sha got)" = "$(sha in)" ]
}

@test "stdin closed: standard input is a bad descriptor, status 1" {
	run --separate-stderr closed 0 "$ZCOPY" - out
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: standard input: Bad file descriptor" ]
	[ ! -e out ]
	run --separate-stderr closed 0 "$ZCOPY" fd:0 out
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: spec 'fd:0': Bad file descriptor" ]
	# Not used: no error.
	timeout 10 "$ZCOPY" in out <&-
	[ "$(sha out)" = "$(sha in)" ]
}

@test "stdout closed: standard output is a bad descriptor, status 1" {
	run --separate-stderr closed 1 "$ZCOPY" in
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: standard output: Bad file descriptor" ]
	run --separate-stderr closed 1 "$ZCOPY" in fd:1
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: spec 'fd:1': Bad file descriptor" ]
	timeout 10 "$ZCOPY" - out <in >&-
	[ "$(sha out)" = "$(sha in)" ]
}

@test "quoted specs and option arguments are escaped" {
	run --separate-stderr timeout 10 "$ZCOPY" $'a\033[2J\\b\n' out
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: spec 'a\\033[2J\\134b\\012': No such file or directory" ]
	run --separate-stderr timeout 10 "$ZCOPY" $'\033]0;x\a:80' out
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: spec '\\033]0;x\\007:80': bad host name '\\033]0;x\\007'" ]
	run --separate-stderr timeout 10 "$ZCOPY" -w $'1\r' in out
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: timeout '1\\015': invalid" ]
	run --separate-stderr timeout 10 "$ZCOPY" -n $'\t' in out
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: invalid number of bytes: '\\011'" ]
}
