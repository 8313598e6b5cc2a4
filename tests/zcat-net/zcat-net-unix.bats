#!/usr/bin/env bats
# zcat-net -lU PATH through the life of its socket file (see
# ../zcopy/unixsock.bash): it writes what a zcopy client sends to
# standard output.

load ../zcopy/unixsock

serve() {
	OUT=$T/$1.got bg "$1" "$ZCAT_NET" -lU "$2"
}

client() {
	timeout 20 "$ZCOPY" "$T/in" "unix:$2"
}

second() {
	"${WRAP[@]}" timeout 10 "$ZCAT_NET" -lU "$1" </dev/null \
	    >"$T/second.got"
}

check() {
	same_as_in "$T/$1.got"
}

SPEC() {
	echo "zcat-net: spec '$1'"
}

@test "a second listener on a live path: exit 1, the first keeps its client" {
	live_path
	[ ! -s "$T/second.got" ]
}
@test "a stale socket file is replaced" { stale_path; }
@test "a socket file replaced under a listener is not removed by it" {
	replaced_path
}
@test "-k: a socket file replaced under the listener is not removed at SIGTERM" {
	bg k "$ZCAT_NET" -k -lU "$T/L"
	wait_listen "$T/L"
	rm "$T/L"
	serve b "$T/L"
	wait_listen "$T/L" 2
	ino=$(stat -c %i "$T/L")
	kill -TERM "$(prog_pid k)"
	reap k
	[ "$RC" -eq 0 ]
	[ -S "$T/L" ]
	[ "$(stat -c %i "$T/L")" = "$ino" ]
	client b "$T/L"
	reap b
	[ "$RC" -eq 0 ]
	check b
	[ ! -e "$T/L" ]
}
@test "a symbolic link at the path is neither followed nor removed" {
	symlink_path
}
@test "a regular file at the path is refused and left intact" { file_path; }
@test "a liveness probe that fails removes nothing" { probe_fails; }
