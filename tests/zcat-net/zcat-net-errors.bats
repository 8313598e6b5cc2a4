#!/usr/bin/env bats
# zcat-net's options, messages and exit statuses: timeouts, refused and
# unresolvable targets, a peer resetting mid-stream, a port in use.

load helpers

# A background command that holds no pipe of bats' open.
QUIET='exec </dev/null 2>/dev/null 3>&-;'

# stay_server: a peer on $port that keeps its side open for 10 s
# after zcat-net half-closes (nc -l would close at once).
stay_server() {
	on_port srv 20 sh -c "sleep 10 | socat -t 10 TCP4-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr STDIO"
	port=$PPORT
}

@test "--help and --version print to stdout and exit 0" {
	run "$ZCAT_NET" --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: zcat-net [-46adkNnPUvz] [-L rate] [-m max] [-p port] [-q secs] [-s addr]" ]
	[[ "$output" == *"-l [options] [host] port"* ]]
	[[ "$output" == *"--send-only"* ]]
	[[ "$output" == *"--recv-only"* ]]
	[[ "$output" == *"--copy-out"* ]]
	[[ "$output" == *"--one-way"* ]]
	run "$ZCAT_NET" --version
	[ "$status" -eq 0 ]
	[ "$output" = "zcat-net (zerocopy) $ZC_VERSION" ]
}

@test "a bad option or no operand: usage and status 1" {
	run "$ZCAT_NET" --bogus
	[ "$status" -eq 1 ]
	[[ "${lines[1]}" == "usage: zcat-net "* ]]
	[ "${lines[-1]}" = "Try 'zcat-net --help' for more information." ]
	run "$ZCAT_NET"
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "Try 'zcat-net --help' for more information." ]
	run "$ZCAT_NET" -w 0 127.0.0.1 1
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: -w: seconds too small: 0" ]
	run "$ZCAT_NET" -k 127.0.0.1 1
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: -k needs a listening spec (-l)" ]
	run "$ZCAT_NET" -m 3 -l 0
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: -m needs -k" ]
	run "$ZCAT_NET" --no-splice --splice-tcp 127.0.0.1 1
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: --no-splice, --splice-tcp and --copy-out cannot go together" ]
	run "$ZCAT_NET" --copy-out --splice-tcp 127.0.0.1 1
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: --no-splice, --splice-tcp and --copy-out cannot go together" ]
}

@test "a malformed spec: one line naming it" {
	run "$ZCAT_NET" 'tcp:[::1'
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "zcat-net: spec 'tcp:[::1': "* ]]
}

@test "refused connection" {
	local port
	port=$(random_port)
	run timeout 10 "$ZCAT_NET" 127.0.0.1 "$port" < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec '127.0.0.1:$port': Connection refused" ]
}

@test "unresolvable host" {
	run timeout 30 "$ZCAT_NET" nonexistent.invalid 80 < /dev/null
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "zcat-net: spec 'nonexistent.invalid:80': "* ]]
}

@test "listening on a port in use" {
	bg srv 20 "$PEER" echo "$T/srv.port"
	wait_file "$T/srv.port"
	local port
	port=$(cat "$T/srv.port")
	run timeout 10 "$ZCAT_NET" -l 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec '127.0.0.1:$port': Address already in use" ]
}

@test "-w: connect to a listener whose backlog is full times out" {
	bg srv 20 "$PEER" fullq "$T/srv.port"
	wait_file "$T/srv.port"
	local port start
	port=$(cat "$T/srv.port")
	start=$SECONDS
	run timeout 10 "$ZCAT_NET" -w 1 127.0.0.1 "$port" < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec '127.0.0.1:$port': Connection timed out" ]
	[ $((SECONDS - start)) -le 4 ]
}

@test "-w: connect to a unix socket nobody accepts on times out" {
	bg srv 20 "$PEER" fullq "$T/srv.port" "$T/s"
	wait_file "$T/srv.port"
	run timeout 10 "$ZCAT_NET" -w 1 -U "$T/s" < /dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec '$T/s': Connection timed out" ]
}

@test "-w: an idle connection ends silently with status 0, as nc -w does" {
	local port start
	on_port srv 20 sh -c "sleep 10 | nc -l 127.0.0.1 @PORT@"
	port=$PPORT
	start=$SECONDS
	run timeout 10 bash -c "'$ZCAT_NET' -w 1 127.0.0.1 $port < <($QUIET sleep 8)"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ $((SECONDS - start)) -le 4 ]
	# nc itself, the same way.
	on_port srv2 20 sh -c "sleep 10 | nc -l 127.0.0.1 @PORT@"
	start=$SECONDS
	run timeout 10 bash -c "nc -w 1 127.0.0.1 $PPORT < <($QUIET sleep 8)"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ $((SECONDS - start)) -le 4 ]
}

@test "-q: quit after stdin ends even though the peer stays" {
	local port start
	head -c 70000 /dev/urandom > "$T/data"
	OUT=$T/got stay_server
	start=$SECONDS
	run timeout 10 "$ZCAT_NET" -q 1 127.0.0.1 "$port" < "$T/data"
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -le 4 ]
	kill "$(cat "$T/srv.pid")"
	reap srv
	cmp "$T/data" "$T/got"
}

@test "without -q, zcat-net waits for the peer after its stdin ends" {
	local port
	stay_server
	run timeout 2 "$ZCAT_NET" 127.0.0.1 "$port" < /dev/null
	[ "$status" -eq 124 ]
}

# reply_server: on $port, reads a line, answers after 0.3 s and closes
# 1 s later.
reply_server() {
	on_port srv 20 socat -t 5 TCP4-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr \
	    SYSTEM:'read x; sleep 0.3; echo reply-$x; sleep 1'
	port=$PPORT
}

@test "-q 0: the reply still comes, as with nc -q 0" {
	local port
	reply_server
	run timeout 10 sh -c "echo req | '$ZCAT_NET' -q 0 127.0.0.1 $port"
	[ "$status" -eq 0 ]
	[ "$output" = "reply-req" ]
	reap srv
	reply_server
	run timeout 10 sh -c "echo req | nc -q 0 127.0.0.1 $port"
	[ "$status" -eq 0 ]
	[ "$output" = "reply-req" ]
}

@test "a peer resetting mid-stream: status 1 and one message" {
	bg srv 20 "$PEER" reset "$T/srv.port"
	wait_file "$T/srv.port"
	local port
	port=$(cat "$T/srv.port")
	run timeout 10 bash -c "'$ZCAT_NET' 127.0.0.1 $port 2>'$T/err' >'$T/got' < <($QUIET sleep 8)"
	[ "$status" -eq 1 ]
	cat "$T/err"
	[ "$(cat "$T/err")" = "zcat-net: spec '127.0.0.1:$port': Connection reset by peer" ]
	[ "$(stat -c %s "$T/got")" -le 65536 ]
}

@test "stdout closed early: broken pipe is an error" {
	local port
	on_port srv 20 sh -c "head -c 10000000 /dev/zero | nc -l 127.0.0.1 @PORT@"
	port=$PPORT
	run timeout 10 bash -c "'$ZCAT_NET' -d 127.0.0.1 $port 2>'$T/err' | head -c 1 >/dev/null; exit \${PIPESTATUS[0]}"
	[ "$status" -eq 1 ]
	[ "$(cat "$T/err")" = "zcat-net: stdout: Broken pipe" ]
}

@test "-4 and -6 keep to one family" {
	run timeout 10 "$ZCAT_NET" -4 '[::1]:80' < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == "zcat-net: spec '[::1]:80': "* ]]
	run timeout 10 "$ZCAT_NET" -6 127.0.0.1 80 < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == "zcat-net: spec '127.0.0.1:80': "* ]]
}

@test "a file cannot be relayed both ways; with --send-only it can" {
	run timeout 10 "$ZCAT_NET" listen:127.0.0.1:0 "file:$T/x"
	[ "$status" -eq 1 ]
	[ "$output" = "zcat-net: spec 'file:$T/x': a file cannot be relayed both ways (use --send-only or --recv-only)" ]
	[ ! -e "$T/x" ]
	bg rl 20 "$ZCAT_NET" -v --send-only listen:127.0.0.1:0 "file:$T/x"
	local port
	port=$(zport rl)
	head -c 300000 /dev/urandom > "$T/data"
	run timeout 10 "$ZCAT_NET" 127.0.0.1 "$port" < "$T/data"
	[ "$status" -eq 0 ]
	reap rl
	[ "$(rc_of rl)" -eq 0 ]
	cmp "$T/data" "$T/x"
}
