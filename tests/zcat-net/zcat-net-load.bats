#!/usr/bin/env bats
# A zcat-net -k relay under load: 200 clients at once through one event
# loop, 10 MiB each way with every byte checked, then 1,000 short
# connections; no descriptor left behind.

load helpers

# echo_server NAME [after-eof]: starts zcn-peer's echo server; sets EPORT.
echo_server() {
	bg "$1" 120 "$PEER" echo "$T/$1.port" ${2:+"$2"}
	wait_file "$T/$1.port"
	EPORT=$(cat "$T/$1.port")
}

# relay NAME ARGS...: starts "zcat-net -v ARGS" in the background; sets
# RPORT when it listens on TCP.
relay() {
	local name=$1
	shift
	bg "$name" 120 "$ZCAT_NET" -v "$@"
	zlistening "$name"
	RPORT=$(sed -n 's/.*: listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/$name.err" | head -n 1)
}

# fd_kinds PID: "SOCKETS PIPES TOTAL" open in PID.
fd_kinds() {
	local l s=0 p=0 n=0
	for l in /proc/"$1"/fd/*; do
		l=$(readlink "$l") || continue
		n=$((n + 1))
		case $l in
		socket:*) s=$((s + 1)) ;;
		pipe:*) p=$((p + 1)) ;;
		esac
	done
	echo "$s $p $n"
}

# settle PID SOCKETS: waits until PID has SOCKETS sockets open.
settle() {
	local i k
	for i in $(seq 50); do
		k=($(fd_kinds "$1"))
		[ "${k[0]}" -eq "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

@test "200 clients at once, 10 MiB each way, then 1000 short ones; fds back to baseline" {
	local pid base loaded after
	echo_server srv
	relay rl -k listen:127.0.0.1:0 "127.0.0.1:$EPORT"
	pid=$(child_of rl)
	[ -n "$pid" ]
	base=($(fd_kinds "$pid"))
	run timeout 80 "$PEER" load 127.0.0.1 "$RPORT" 200 10485760
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "200 clients, 200 ok" ]
	settle "$pid" "${base[0]}"
	loaded=($(fd_kinds "$pid"))
	run timeout 60 "$PEER" seq 127.0.0.1 "$RPORT" 1000
	echo "$output"
	[ "$status" -eq 0 ]
	settle "$pid" "${base[0]}"
	after=($(fd_kinds "$pid"))
	echo "sockets pipes total: start ${base[*]}, after load ${loaded[*]}, after 1000 more ${after[*]}"
	# Every connection's sockets are closed; what is left beyond the
	# start is the flow engine's pool of spare pipes (at most 64 pipes,
	# lib/flow.c POOL_MAX), and it does not grow with more connections.
	[ "${after[0]}" -eq "${base[0]}" ]
	[ "${after[1]}" -le $((base[1] + 128)) ]
	[ "${after[2]}" -eq $((base[2] + after[1] - base[1])) ]
	[ "${after[2]}" -eq "${loaded[2]}" ]
	[ "$(grep -c 'connection from' "$T/rl.err")" -eq 1200 ]
	[ "$(grep -c '10485760 bytes to .*, 10485760 bytes back' "$T/rl.err")" -eq 200 ]
	kill "$(cat "$T/rl.pid")"
	reap rl
	[ "$(rc_of rl)" -eq 0 ]
}
