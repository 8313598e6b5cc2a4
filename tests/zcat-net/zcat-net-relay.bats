#!/usr/bin/env bats
# zcat-net as a relay: half-close passes through, many connections at once
# from one loop, -m, -u, and no descriptor left behind.

load helpers

# exchange METHODS [FLAGS]: a 1 MiB + 1 request, half-closed, and the
# whole response through a relay started with FLAGS (the client gets
# them too); the relay's -v line names METHODS for both directions.
exchange() {
	local methods=$1
	shift
	echo_server srv after-eof
	relay rl "$@" listen:127.0.0.1:0 "127.0.0.1:$EPORT"
	head -c 1048577 /dev/urandom > "$T/req"
	run timeout 20 sh -c "'$ZCAT_NET' $* 127.0.0.1 $RPORT < '$T/req' > '$T/resp'"
	[ "$status" -eq 0 ]
	cmp "$T/req" "$T/resp"
	# Without -k the relay ends with its one connection, status 0.
	reap rl
	[ "$(rc_of rl)" -eq 0 ]
	grep -Eq "1048577 bytes to spec '127\.0\.0\.1:$EPORT' \($methods\), 1048577 bytes back \($methods\)" "$T/rl.err"
}

@test "half-close: a request, then the whole response, through a relay" {
	# Socket to socket by the measured choice: its methods are among
	# splicing in and out, copying out and read/write.
	exchange "((splice-pipe|read-write)(\\+|, )?)+( in, ((splice-pipe|read-write)\\+?)+ out)?"
}

@test "--splice-tcp: spliced in and out, the same bytes" {
	exchange splice-pipe --splice-tcp
}

@test "--copy-out: spliced in, written out from a buffer" {
	exchange "splice-pipe in, read-write out" --copy-out
}

@test "--no-splice: the same bytes by read/write" {
	exchange read-write --no-splice
}

@test "half-close through a relay with nc -N and socat as clients" {
	echo_server srv after-eof
	relay rl -k listen:127.0.0.1:0 "127.0.0.1:$EPORT"
	head -c 300000 /dev/urandom > "$T/req"
	timeout 20 nc -N 127.0.0.1 "$RPORT" < "$T/req" > "$T/resp1"
	cmp "$T/req" "$T/resp1"
	timeout 20 socat -t 5 - "TCP4:127.0.0.1:$RPORT" < "$T/req" > "$T/resp2"
	cmp "$T/req" "$T/resp2"
	# An empty request: the FIN alone goes through.
	timeout 20 "$ZCAT_NET" 127.0.0.1 "$RPORT" < /dev/null > "$T/resp3"
	[ ! -s "$T/resp3" ]
}

@test "unix to TCP bridge, both ways" {
	echo_server srv
	relay rl -k "unix-listen:$T/s" "127.0.0.1:$EPORT"
	head -c 2000000 /dev/urandom > "$T/req"
	timeout 20 socat -t 5 - "UNIX-CONNECT:$T/s" < "$T/req" > "$T/resp"
	cmp "$T/req" "$T/resp"
	timeout 20 "$ZCAT_NET" -U "$T/s" < "$T/req" > "$T/resp2"
	cmp "$T/req" "$T/resp2"
	[ "$(grep -c "2000000 bytes to .*, 2000000 bytes back" "$T/rl.err")" -eq 2 ]
	# The socket file goes away with the relay.
	kill "$(cat "$T/rl.pid")"
	reap rl
	[ "$(rc_of rl)" -eq 0 ]
	[ ! -e "$T/s" ]
}

@test "--one-way relays one way only" {
	OUT=$T/got on_port sink 20 nc -l 127.0.0.1 @PORT@
	relay rl --one-way listen:127.0.0.1:0 "127.0.0.1:$PPORT"
	head -c 100000 /dev/urandom > "$T/req"
	timeout 20 nc -N 127.0.0.1 "$RPORT" < "$T/req" > "$T/back"
	reap rl
	reap sink
	[ "$(rc_of rl)" -eq 0 ]
	cmp "$T/req" "$T/got"
	[ ! -s "$T/back" ]
}

@test "-m 1: a second client waits in the backlog until the first is done" {
	local first
	echo_server srv
	relay rl -k -m 1 listen:127.0.0.1:0 "127.0.0.1:$EPORT"
	# The first client holds its connection open for a second.
	( sleep 1; printf one ) | timeout 20 "$ZCAT_NET" 127.0.0.1 "$RPORT" \
	    > "$T/one" 3>&- &
	first=$!
	sleep 0.3
	printf two | timeout 20 "$ZCAT_NET" 127.0.0.1 "$RPORT" > "$T/two"
	wait "$first"
	[ "$(cat "$T/one")" = one ]
	[ "$(cat "$T/two")" = two ]
	# The second connection came only after the first was closed.
	grep -E 'Connection received on|bytes back' "$T/rl.err" > "$T/order"
	cat "$T/order"
	sed -n 1p "$T/order" | grep -q 'Connection received on'
	sed -n 2p "$T/order" | grep -q '3 bytes to .*, 3 bytes back'
	sed -n 3p "$T/order" | grep -q 'Connection received on'
}

@test "-k relay: a refused target fails that connection only" {
	local port
	port=$(random_port)
	relay rl -k listen:127.0.0.1:0 "127.0.0.1:$port"
	run timeout 10 "$ZCAT_NET" 127.0.0.1 "$RPORT" < /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -qx "zcat-net: spec '127.0.0.1:$port': Connection refused" "$T/rl.err"
	# Still listening, and the error shows in the status.
	run timeout 10 "$ZCAT_NET" 127.0.0.1 "$RPORT" < /dev/null
	[ "$status" -eq 0 ]
	[ "$(grep -c 'Connection refused' "$T/rl.err")" -eq 2 ]
	kill "$(cat "$T/rl.pid")"
	reap rl
	[ "$(rc_of rl)" -eq 1 ]
}

@test "-k -l: clients one after another into one standard output" {
	local port
	OUT=$T/all bg zl 20 "$ZCAT_NET" -v -k -l 127.0.0.1 0
	port=$(zport zl)
	printf 'first\n' | timeout 10 nc -N 127.0.0.1 "$port" > /dev/null
	printf 'second\n' | timeout 10 "$ZCAT_NET" 127.0.0.1 "$port" > /dev/null
	head -c 100000 /dev/urandom > "$T/data"
	timeout 10 socat -u - "TCP4:127.0.0.1:$port" < "$T/data"
	for i in $(seq 100); do
		[ "$(grep -c 'sent 0 bytes, received' "$T/zl.err")" -eq 3 ] && break
		sleep 0.05
	done
	kill "$(cat "$T/zl.pid")"
	reap zl
	[ "$(rc_of zl)" -eq 0 ]
	{ printf 'first\nsecond\n'; cat "$T/data"; } | cmp - "$T/all"
}

@test "SIGTERM with a connection open: status 1" {
	local port
	OUT=/dev/null bg zl 20 "$ZCAT_NET" -v -k -l 127.0.0.1 0
	port=$(zport zl)
	bg cl 20 sh -c "sleep 10 | nc 127.0.0.1 $port"
	for i in $(seq 100); do
		grep -q 'Connection received on' "$T/zl.err" && break
		sleep 0.05
	done
	kill "$(cat "$T/zl.pid")"
	reap zl
	[ "$(rc_of zl)" -eq 1 ]
	grep -q 'sent 0 bytes, received 0 bytes' "$T/zl.err"
}
