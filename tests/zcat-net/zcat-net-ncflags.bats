#!/usr/bin/env bats
# zcat-net with the options nc and ncat users type, side by side with
# OpenBSD nc on the same action: -l -p, -n, -z with ranges and lists, -s
# and -p as the listener sees them, service names, the -v lines, -u
# refused, --send-only and --recv-only, -a, and a peer that closes.

load helpers

QUIET='exec </dev/null 2>/dev/null 3>&-;'

# The -v lines with addresses and ports as ADDR and PORT, and "nc" or
# "zcat-net" at the start of a message as PROG.
shape() {
	sed -E -e 's/^(nc|zcat-net): /PROG: /' \
	    -e 's/ [0-9a-f.:]+ [0-9]+$/ ADDR PORT/' \
	    -e 's/port [0-9]+ /port PORT /' -e 's/ [0-9]+ port / PORT port /' \
	    -e '/: sent [0-9]+ bytes/d' "$1"
}

# free_service: a TCP service of /etc/services whose port nobody listens
# on and that this user may bind; sets SVC and SVC_PORT.
free_service() {
	local name port
	while read -r name port; do
		[ "$(id -u)" -eq 0 ] || [ "$port" -ge 1024 ] || continue
		getent services "$name/tcp" >/dev/null || continue
		if [ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
			SVC=$name SVC_PORT=$port
			return 0
		fi
	done <<-END
	gopher 70
	finger 79
	cvspserver 2401
	svn 3690
	ircd 6667
	tproxy 8081
	git 9418
	END
	skip "no free port of a TCP service"
}

# many NAME PORT: a listener on 127.0.0.1:PORT that accepts any number
# of clients and writes each one's address and port to $T/NAME.out.
many() {
	OUT=$T/$1.out bg "$1" 20 python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, a = s.accept()
    print(a[0], a[1], flush=True)
    c.close()
' "$2"
	wait_tcp "$2" "$1"
}

@test "-lvnp PORT: an nc client's bytes arrive, and the -v lines are nc -lvnp's" {
	local port
	head -c 300001 /dev/urandom > "$T/data"
	for prog in "$ZCAT_NET" nc; do
		port=$(random_port)
		bg l 20 "$prog" -lvnp "$port"
		wait_tcp "$port" l
		timeout 10 nc -N 127.0.0.1 "$port" < "$T/data"
		reap l
		[ "$(rc_of l)" -eq 0 ]
		[ "$(sum_of "$T/l.out")" = "$(sum_of "$T/data")" ]
		shape "$T/l.err" > "$T/$(basename "$prog").shape"
		cp "$T/l.err" "$T/$(basename "$prog").err"
	done
	cat "$T/zcat-net.shape"
	[ "$(cat "$T/zcat-net.shape")" = "Listening on ADDR PORT
Connection received on ADDR PORT" ]
	cmp "$T/zcat-net.shape" "$T/nc.shape"
	# The byte summary follows them.
	[ "$(wc -l < "$T/zcat-net.err")" -eq 3 ]
	grep -q "^zcat-net: spec '[0-9]*': .*: sent 0 bytes, received 300001 bytes" "$T/zcat-net.err"
}

@test "-l -p PORT -s 127.0.0.1 listens there; -l -p PORT HOST too" {
	local port
	port=$(random_port)
	bg l 20 "$ZCAT_NET" -v -l -p "$port" -s 127.0.0.1
	wait_tcp "$port" l
	grep -qx "Listening on 127.0.0.1 $port" "$T/l.err"
	echo one | timeout 10 nc -N 127.0.0.1 "$port"
	reap l
	[ "$(rc_of l)" -eq 0 ]
	[ "$(cat "$T/l.out")" = one ]
	port=$(random_port)
	bg l 20 "$ZCAT_NET" -v -l -p "$port" 127.0.0.1
	wait_tcp "$port" l
	grep -qx "Listening on 127.0.0.1 $port" "$T/l.err"
	echo two | timeout 10 nc -N 127.0.0.1 "$port"
	reap l
	[ "$(cat "$T/l.out")" = two ]
}

@test "-v client line: the same as nc -v's, to an address and to a name" {
	local host
	for host in 127.0.0.1 localhost; do
		for prog in "$ZCAT_NET" nc; do
			on_port l 20 nc -l 127.0.0.1 @PORT@
			timeout 10 "$prog" -v -N "$host" "$PPORT" < /dev/null \
			    2> "$T/c.err" > /dev/null
			reap l
			grep -v ': sent ' "$T/c.err" |
			    sed "s/ $PPORT / PORT /" > "$T/$(basename "$prog").line"
		done
		cat "$T/zcat-net.line"
		cmp "$T/zcat-net.line" "$T/nc.line"
	done
	[ "$(cat "$T/zcat-net.line")" = "Connection to localhost (127.0.0.1) PORT port [tcp/*] succeeded!" ]
}

@test "-z: open, closed, a range and a list: nc's exit statuses and -v lines" {
	local open closed lo
	open=$(random_port)
	many m "$open"
	closed=$(random_port)
	while [ "$closed" -eq "$open" ] || [ "$closed" -eq $((open + 1)) ] ||
	    [ "$closed" -eq $((open - 1)) ]; do
		closed=$(random_port)
	done
	lo=$((open - 1))
	for args in "$open" "$closed" "$lo-$((open + 1))" "$((open + 1))-$lo" \
	    "$closed $open" "$closed $closed"; do
		for prog in "$ZCAT_NET" nc; do
			# shellcheck disable=SC2086
			run timeout 10 "$prog" -z 127.0.0.1 $args
			echo "$prog -z $args: $status"
			echo "$status" > "$T/$(basename "$prog").rc"
			[ -z "$output" ]
			# shellcheck disable=SC2086
			timeout 10 "$prog" -zv 127.0.0.1 $args 2> "$T/v.err" || true
			sed -E 's/^(nc|zcat-net): //' "$T/v.err" > "$T/$(basename "$prog").v"
		done
		cat "$T/zcat-net.v"
		cmp "$T/zcat-net.rc" "$T/nc.rc"
		cmp "$T/zcat-net.v" "$T/nc.v"
	done
	run timeout 10 "$ZCAT_NET" -z 127.0.0.1 "$open"
	[ "$status" -eq 0 ]
	run timeout 10 "$ZCAT_NET" -z 127.0.0.1 "$closed"
	[ "$status" -eq 1 ]
	run timeout 10 "$ZCAT_NET" -zv 127.0.0.1 "$lo-$((open + 1))"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "Connection to 127.0.0.1 $open port [tcp/*] succeeded!" ]
	[ "${lines[0]}" = "zcat-net: connect to 127.0.0.1 port $lo (tcp) failed: Connection refused" ]
	run timeout 10 "$ZCAT_NET" -z 127.0.0.1 "$open-http2x"
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: -z: port number invalid: http2x" ]
}

@test "-s 127.0.0.1 -p PORT: the listener sees that address and port" {
	local port sport
	port=$(random_port)
	many m "$port"
	sport=$(random_port)
	run timeout 10 "$ZCAT_NET" -s 127.0.0.1 -p "$sport" 127.0.0.1 "$port" < /dev/null
	[ "$status" -eq 0 ]
	# -z goes from there too.
	sport2=$(random_port)
	run timeout 10 "$ZCAT_NET" -z -p "$sport2" 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	for i in $(seq 100); do
		[ "$(wc -l < "$T/m.out")" -ge 2 ] && break
		sleep 0.05
	done
	[ "$(sed -n 1p "$T/m.out")" = "127.0.0.1 $sport" ]
	[ "$(sed -n 2p "$T/m.out")" = "127.0.0.1 $sport2" ]
	# An address this host does not have: one line, status 1.
	run timeout 10 "$ZCAT_NET" -s 192.0.2.1 127.0.0.1 "$port" < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec '127.0.0.1:$port': Cannot assign requested address" ]
}

@test "-u is refused: no UDP, one line, status 1, no file made" {
	cd "$T"
	run timeout 5 "$ZCAT_NET" -lu 0 </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: -u: UDP is not supported, only TCP and unix stream sockets (one way: --send-only or --recv-only)" ]
	run timeout 5 sh -c "echo hi | '$ZCAT_NET' -u host"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[ -z "$(ls -A)" ]
}

@test "-n: a name is refused with a message; an address is used" {
	run timeout 10 "$ZCAT_NET" -n localhost 1 < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec 'localhost:1': 'localhost' is not a numeric address (-n: no DNS)" ]
	run timeout 10 "$ZCAT_NET" -zn localhost 1
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec 'localhost': 'localhost' is not a numeric address (-n: no DNS)" ]
	run timeout 10 "$ZCAT_NET" -ln localhost:0 < /dev/null
	[ "$status" -eq 1 ]
	run timeout 10 "$ZCAT_NET" -n -s localhost 127.0.0.1 1 < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec 'localhost': 'localhost' is not a numeric address (-n: no DNS)" ]
	on_port l 20 nc -l 127.0.0.1 @PORT@
	run timeout 10 sh -c "echo hi | '$ZCAT_NET' -n 127.0.0.1 $PPORT"
	[ "$status" -eq 0 ]
	reap l
	[ "$(cat "$T/l.out")" = hi ]
}

@test "a service name is a port: connect, listen and -z" {
	free_service
	many m "$SVC_PORT"
	run timeout 10 "$ZCAT_NET" -z 127.0.0.1 "$SVC"
	[ "$status" -eq 0 ]
	run timeout 10 "$ZCAT_NET" -zv 127.0.0.1 "$SVC"
	[ "$output" = "Connection to 127.0.0.1 $SVC_PORT port [tcp/$SVC] succeeded!" ]
	run timeout 10 nc -zv 127.0.0.1 "$SVC"
	[ "$output" = "Connection to 127.0.0.1 $SVC_PORT port [tcp/$SVC] succeeded!" ]
	run timeout 10 "$ZCAT_NET" 127.0.0.1 "$SVC" < /dev/null
	[ "$status" -eq 0 ]
	kill "$(cat "$T/m.pid")"
	reap m
	bg l 20 "$ZCAT_NET" -v -l 127.0.0.1 "$SVC"
	wait_tcp "$SVC_PORT" l
	echo svc | timeout 10 nc -N 127.0.0.1 "$SVC_PORT"
	reap l
	[ "$(rc_of l)" -eq 0 ]
	[ "$(cat "$T/l.out")" = svc ]
	grep -qx "Listening on 127.0.0.1 $SVC_PORT" "$T/l.err"
	bg l 20 "$ZCAT_NET" -l "$SVC"
	wait_tcp "$SVC_PORT" l
	echo svc2 | timeout 10 nc -N 127.0.0.1 "$SVC_PORT"
	reap l
	[ "$(cat "$T/l.out")" = svc2 ]
}

@test "--send-only and --recv-only: exact bytes one way, nothing the other" {
	head -c 1048577 /dev/urandom > "$T/a"
	head -c 700001 /dev/urandom > "$T/b"
	# Client, --send-only: nc gets a; b is not read.
	IN=$T/b on_port l 20 nc -l 127.0.0.1 @PORT@
	run timeout 10 sh -c "'$ZCAT_NET' --send-only 127.0.0.1 $PPORT < '$T/a' > '$T/got'"
	[ "$status" -eq 0 ]
	reap l
	[ "$(sum_of "$T/l.out")" = "$(sum_of "$T/a")" ]
	[ ! -s "$T/got" ]
	# Client, --recv-only: b arrives; a is not sent.
	IN=$T/b on_port l 20 nc -N -l 127.0.0.1 @PORT@
	run timeout 10 sh -c "'$ZCAT_NET' --recv-only 127.0.0.1 $PPORT < '$T/a' > '$T/got'"
	[ "$status" -eq 0 ]
	reap l
	[ "$(sum_of "$T/got")" = "$(sum_of "$T/b")" ]
	[ ! -s "$T/l.out" ]
	# Listener, --send-only and --recv-only, with an nc client.
	IN=$T/a bg z 20 "$ZCAT_NET" -v --send-only -l 127.0.0.1 0
	timeout 10 nc -N 127.0.0.1 "$(zport z)" < "$T/b" > "$T/got"
	reap z
	[ "$(rc_of z)" -eq 0 ]
	[ "$(sum_of "$T/got")" = "$(sum_of "$T/a")" ]
	[ ! -s "$T/z.out" ]
	IN=$T/a bg z 20 "$ZCAT_NET" -v --recv-only -l 127.0.0.1 0
	timeout 10 nc -N 127.0.0.1 "$(zport z)" < "$T/b" > "$T/got"
	reap z
	[ "$(rc_of z)" -eq 0 ]
	[ "$(sum_of "$T/z.out")" = "$(sum_of "$T/b")" ]
	[ ! -s "$T/got" ]
	run timeout 5 "$ZCAT_NET" --send-only --recv-only 127.0.0.1 1 </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: --send-only, --recv-only and --one-way cannot go together" ]
}

@test "-a appends to a file spec in a relay; without it the file is replaced" {
	printf 'old\n' > "$T/x"
	head -c 200001 /dev/urandom > "$T/data"
	bg rl 20 "$ZCAT_NET" -v -a --send-only listen:127.0.0.1:0 "file:$T/x"
	timeout 10 "$ZCAT_NET" 127.0.0.1 "$(zport rl)" < "$T/data"
	reap rl
	[ "$(rc_of rl)" -eq 0 ]
	[ "$(sum_of "$T/x")" = "$( (printf 'old\n'; cat "$T/data") | sha256sum | cut -d' ' -f1)" ]
	bg rl 20 "$ZCAT_NET" -v --send-only listen:127.0.0.1:0 "file:$T/x"
	timeout 10 "$ZCAT_NET" 127.0.0.1 "$(zport rl)" < "$T/data"
	reap rl
	[ "$(sum_of "$T/x")" = "$(sum_of "$T/data")" ]
}

@test "a peer that closes while bytes still go to it: status 0, as with nc" {
	head -c 20000000 /dev/zero > "$T/big"
	for prog in "$ZCAT_NET" nc; do
		on_port l 20 socat -t 0.1 TCP4-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr \
		    SYSTEM:'head -c 10 >/dev/null'
		run timeout 10 "$prog" 127.0.0.1 "$PPORT" < "$T/big"
		echo "$prog: $status $output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		reap l
	done
}
