#!/usr/bin/env bats
# Descriptors 0, 1 and 2 closed one at a time; socket operands that a
# file of the same name cannot divert; quoted text in messages.

load helpers
bats_require_minimum_version 1.5.0

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

@test "stdin closed: read error and standard input, outputs empty" {
	need_ztee
	run --separate-stderr closed 0 "$ZTEE" o1 fd:1
	[ "$status" -eq 1 ]
	[ "$stderr" = "ztee: read error: Bad file descriptor
ztee: standard input: Bad file descriptor" ]
	[ -f o1 ] && [ ! -s o1 ]
	[ -z "$output" ]
}

@test "stdout closed: one line, status 1, every file complete" {
	need_ztee
	seq 1000 >in
	run --separate-stderr closed 1 "$ZTEE" o1 o2 <in
	[ "$status" -eq 1 ]
	[ "$stderr" = "ztee: 'standard output': Bad file descriptor" ]
	same in o1 o2
}

@test "stderr closed: messages go nowhere, outputs exact" {
	need_ztee
	seq 1000 >in
	timeout 10 "$ZTEE" -v o1 <in >o2 2>&-
	same in o1 o2
	mkdir d
	run closed 2 "$ZTEE" o3 <d
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ -f o3 ] && [ ! -s o3 ]
}

@test "IPV4:PORT, [IPV6]:PORT, localhost:PORT connect even if a file has the name" {
	need_ztee
	seq 1000 >in
	listener tcp - t4.out
	p4=$PORT
	listener tcp - tl.out
	pl=$PORT
	names=("127.0.0.1:$p4" "localhost:$pl")
	if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
		listener tcp6 - t6.out
		names+=("[::1]:$PORT")
	else
		echo "# no ::1 here" >&3
	fi
	for n in "${names[@]}"; do
		echo decoy >"$n"
	done
	timeout 10 "$ZTEE" "${names[@]}" <in >out
	wait_listeners
	same in out t4.out tl.out
	[ ! -f t6.out ] || same in t6.out
	for n in "${names[@]}"; do
		[ "$(cat "$n")" = decoy ]
	done
	# A name ztee(1) does not list as a socket stays a file.
	timeout 10 "$ZTEE" "a:$p4" <in >out
	same in "a:$p4"
}

# Quoted as GNU tee quotes them in the C locale (see shquote in
# cmd/common.h): shell quoting with $'...' for control bytes.
@test "quoted names and option arguments are escaped" {
	need_ztee
	run --separate-stderr "$ZTEE" $'no\033[2J/x' </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "ztee: 'no'\$'\\033''[2J/x': No such file or directory" ]
	run --separate-stderr "$ZTEE" $'unix:/no\\/\r' </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "ztee: 'unix:/no\\/'\$'\\r': No such file or directory" ]
	run --separate-stderr "$ZTEE" $'tcp:\033]0;x\a:80' </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "ztee: spec 'tcp:'\$'\\033'']0;x'\$'\\a'':80': bad host name '\\033]0;x\\007'" ]
	run --separate-stderr "$ZTEE" $'--output-error=\033c' </dev/null
	[ "$status" -eq 1 ]
	[ "${stderr_lines[0]}" = "ztee: invalid argument '\\033c' for '--output-error'" ]
}
