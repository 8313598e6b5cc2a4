#!/usr/bin/env bats
# A zcat-net -k relay under load: 200 clients at once through one event
# loop, 10 MiB each way with every byte checked, then 1,000 short
# connections; no descriptor left behind.

load helpers

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

# settle PID N: waits until PID has N descriptors open.
settle() {
	local i k
	for i in $(seq 50); do
		k=($(fd_kinds "$1"))
		[ "${k[2]}" -eq "$2" ] && return 0
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
	settle "$pid" "${base[2]}"
	loaded=($(fd_kinds "$pid"))
	run timeout 60 "$PEER" seq 127.0.0.1 "$RPORT" 1000
	echo "$output"
	[ "$status" -eq 0 ]
	settle "$pid" "${base[2]}"
	after=($(fd_kinds "$pid"))
	echo "sockets pipes total: start ${base[*]}, after load ${loaded[*]}, after 1000 more ${after[*]}"
	# Every connection's sockets and pipes are closed: once no
	# connection is left, the flow engine keeps no spare pipe either.
	[ "${after[0]}" -eq "${base[0]}" ]
	[ "${after[1]}" -eq "${base[1]}" ]
	[ "${after[2]}" -eq "${base[2]}" ]
	[ "${loaded[2]}" -eq "${base[2]}" ]
	[ "$(grep -c 'Connection received on' "$T/rl.err")" -eq 1200 ]
	[ "$(grep -c '10485760 bytes to .*, 10485760 bytes back' "$T/rl.err")" -eq 200 ]
	kill "$(cat "$T/rl.pid")"
	reap rl
	[ "$(rc_of rl)" -eq 0 ]
}
