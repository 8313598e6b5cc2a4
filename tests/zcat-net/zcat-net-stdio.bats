#!/usr/bin/env bats
# Descriptors 0, 1 and 2 closed one at a time; -l operands that are not
# ports; peer addresses and specs with escape sequences in messages.

load helpers
bats_require_minimum_version 1.5.0

# closed FD CMD...: runs CMD (for at most 10 s) with descriptor FD closed.
# Inside run, for a bare "<&-" would let run's own capture pipe take fd 0.
closed() {
	local fd=$1
	shift
	case $fd in
	0) timeout -k 5 10 "$@" <&- ;;
	1) timeout -k 5 10 "$@" >&- ;;
	2) timeout -k 5 10 "$@" 2>&- ;;
	esac
}

sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# server: a zcat-net listener on 127.0.0.1 that sends $IN (default
# nothing) and writes what it gets to $T/srv.out; sets port.
server() {
	bg srv 20 "$ZCAT_NET" -v -l 127.0.0.1 0
	port=$(zport srv)
}

@test "stdout closed: standard output is a bad descriptor, status 1" {
	run --separate-stderr closed 1 "$ZCAT_NET" -l 127.0.0.1 0
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: standard output: Bad file descriptor" ]
	run --separate-stderr closed 1 "$ZCAT_NET" 127.0.0.1 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: standard output: Bad file descriptor" ]
}

@test "stdout closed with --send-only: standard input is sent, status 0" {
	seq 20000 >"$T/in"
	server
	closed 1 "$ZCAT_NET" --send-only 127.0.0.1 "$port" <"$T/in"
	reap srv
	[ "$(rc_of srv)" -eq 0 ]
	[ "$(sha "$T/srv.out")" = "$(sha "$T/in")" ]
}

@test "stdin closed: standard input is a bad descriptor, status 1" {
	run --separate-stderr closed 0 "$ZCAT_NET" -l 127.0.0.1 0
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: standard input: Bad file descriptor" ]
	run --separate-stderr closed 0 "$ZCAT_NET" 127.0.0.1 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: standard input: Bad file descriptor" ]
}

@test "stdin closed with -d: the reply is received, status 0" {
	seq 20000 >"$T/in"
	IN=$T/in server
	closed 0 "$ZCAT_NET" -d 127.0.0.1 "$port" >"$T/got"
	reap srv
	[ "$(rc_of srv)" -eq 0 ]
	[ "$(sha "$T/got")" = "$(sha "$T/in")" ]
	[ ! -s "$T/srv.out" ]
}

@test "stderr closed: -v lines go nowhere, both directions exact" {
	seq 20000 >"$T/in"
	seq 30000 >"$T/reply"
	IN=$T/reply server
	closed 2 "$ZCAT_NET" -v 127.0.0.1 "$port" <"$T/in" >"$T/got"
	reap srv
	[ "$(rc_of srv)" -eq 0 ]
	[ "$(sha "$T/srv.out")" = "$(sha "$T/in")" ]
	[ "$(sha "$T/got")" = "$(sha "$T/reply")" ]
	# A listener with -v and standard error closed. With no stderr it
	# cannot say that its port was taken meanwhile by another test: a
	# listener that is gone before it listens is tried on another port.
	for try in 1 2 3; do
		p=$(random_port)
		(exec 2>&-; exec timeout -k 5 20 "$ZCAT_NET" -v -l 127.0.0.1 \
		    "$p" </dev/null >"$T/l.out") &
		echo $! >"$T/l.pid"
		wait_tcp "$p" l && break
		[ "$try" -lt 3 ]
	done
	"$ZCAT_NET" 127.0.0.1 "$p" <"$T/in" >/dev/null
	reap l
	[ "$(rc_of l)" -eq 0 ]
	[ "$(sha "$T/l.out")" = "$(sha "$T/in")" ]
}

@test "-l WORD that is not a port: one message, status 1, no socket file" {
	mkdir "$T/w"
	cd "$T/w"
	for w in 99999 localhost 127.0.0.1 8o80 65536; do
		run --separate-stderr timeout -k 5 10 "$ZCAT_NET" -l "$w" \
		    </dev/null
		[ "$status" -eq 1 ]
		[ "$stderr" = "zcat-net: spec '$w': port '$w' is not a number from 0 to 65535" ]
	done
	run --separate-stderr timeout -k 5 10 "$ZCAT_NET" -l 127.0.0.1 99999 \
	    </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: spec '127.0.0.1:99999': port '99999' is not a number from 1 to 65535" ]
	[ -z "$(ls -A)" ]
	# -U makes the word a socket path.
	bg u 10 "$ZCAT_NET" -lU 99999
	wait_unix 99999
	[ -S 99999 ]
}

@test "a unix client's bound path is escaped in -v lines" {
	cd "$T"
	bg srv 20 "$ZCAT_NET" -v unix-listen:L
	zlistening srv
	python3 - "$T/L" "$T/c"$'\033[2J\\\n' <<'END'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[2])
s.connect(sys.argv[1])
s.sendall(b"hi\n")
s.shutdown(socket.SHUT_WR)
s.recv(1)
END
	reap srv
	[ "$(rc_of srv)" -eq 0 ]
	[ "$(cat srv.out)" = hi ]
	grep -Fqx "Connection received on $T/c\\033[2J\\134\\012" srv.err
	grep -Fq "zcat-net: spec 'unix-listen:L': $T/c\\033[2J\\134\\012: sent 0 bytes" srv.err
	[ "$(tr -d '\n -~' <srv.err | wc -c)" -eq 0 ]
}

@test "specs and option arguments in messages are escaped" {
	run --separate-stderr "$ZCAT_NET" $'\033[2J:80' </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: spec '\\033[2J:80': bad host name '\\033[2J'" ]
	run --separate-stderr "$ZCAT_NET" $'unix:/no/\033]0;x\a' </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: spec 'unix:/no/\\033]0;x\\007': No such file or directory" ]
	run --separate-stderr "$ZCAT_NET" -w $'\033c' 127.0.0.1 1 </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcat-net: -w: seconds invalid: \\033c" ]
}
