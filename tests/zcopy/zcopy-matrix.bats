#!/usr/bin/env bats
# Every source kind to every sink kind at sizes 0, 1, 65535, 65537 and
# 1 MiB + 1, with splice allowed (the library picks the method): byte-exact, exit 0,
# and a -v line whose per-method counts add up.

load common
load xfer
load matrix

MODE=

@test "file to file" { pair file file; }
@test "file to pipe" { pair file pipe; }
@test "file to fifo" { pair file fifo; }
@test "file to tcp" { pair file tcp; }
@test "file to unix" { pair file unix; }
@test "file to /dev/null" { pair file null; }
@test "pipe to file" { pair pipe file; }
@test "pipe to pipe" { pair pipe pipe; }
@test "pipe to fifo" { pair pipe fifo; }
@test "pipe to tcp" { pair pipe tcp; }
@test "pipe to unix" { pair pipe unix; }
@test "pipe to /dev/null" { pair pipe null; }
@test "fifo to file" { pair fifo file; }
@test "fifo to pipe" { pair fifo pipe; }
@test "fifo to fifo" { pair fifo fifo; }
@test "fifo to tcp" { pair fifo tcp; }
@test "fifo to unix" { pair fifo unix; }
@test "fifo to /dev/null" { pair fifo null; }
@test "tcp to file" { pair tcp file; }
@test "tcp to pipe" { pair tcp pipe; }
@test "tcp to fifo" { pair tcp fifo; }
@test "tcp to tcp" { pair tcp tcp; }
@test "tcp to unix" { pair tcp unix; }
@test "tcp to /dev/null" { pair tcp null; }
@test "unix to file" { pair unix file; }
@test "unix to pipe" { pair unix pipe; }
@test "unix to fifo" { pair unix fifo; }
@test "unix to tcp" { pair unix tcp; }
@test "unix to unix" { pair unix unix; }
@test "unix to /dev/null" { pair unix null; }

@test "a unix socket named by a plain path is connected to" {
	head -c 100000 /dev/urandom >"$T/data"
	peer sh -c 'socat -u UNIX-LISTEN:"$1" STDOUT >"$2"' sh \
	    "$T/sock" "$T/out"
	wait_unix "$T/sock"
	timeout 20 "$ZCOPY" "$T/data" "$T/sock"
	wait_peers
	same "$T/out" "$T/data"
}

@test "file: and tcp: prefixes, and [::1]:PORT" {
	head -c 100000 /dev/urandom >"$T/data"
	cd "$T"
	timeout 20 "$ZCOPY" file:data file:a:b
	same a:b data
	port=$(free_port)
	peer sh -c 'socat -u "$1" STDOUT >"$2"' sh \
	    "TCP:127.0.0.1:$port,retry=200,interval=0.05" out1
	timeout 20 "$ZCOPY" data "tcp-listen:127.0.0.1:$port"
	wait_peers
	same out1 data
	port=$(free_port)
	peer socat -u OPEN:data "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr"
	wait_tcp "$port"
	timeout 20 "$ZCOPY" "tcp:127.0.0.1:$port" out2
	wait_peers
	same out2 data
	if ! "$PYTHON" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
		skip "no IPv6 loopback"
	fi
	port=$(free_port)
	peer socat -u OPEN:data "TCP6-LISTEN:$port,bind=[::1],reuseaddr"
	wait_tcp "$port"
	timeout 20 "$ZCOPY" "[::1]:$port" out3
	wait_peers
	same out3 data
}

@test "fd:N as source and sink" {
	head -c 100000 /dev/urandom >"$T/data"
	timeout 20 "$ZCOPY" fd:5 fd:6 5<"$T/data" 6>"$T/out"
	same "$T/out" "$T/data"
}
