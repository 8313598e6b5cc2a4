#!/usr/bin/env bats
# zcopy unix-listen:PATH through the life of its socket file (see
# unixsock.bash): it receives into a file from a zcopy client.

load unixsock

serve() {
	bg "$1" "$ZCOPY" "unix-listen:$2" "$T/$1.got"
}

client() {
	timeout 20 "$ZCOPY" "$T/in" "unix:$2"
}

second() {
	"${WRAP[@]}" timeout 10 "$ZCOPY" "unix-listen:$1" "$T/second.got"
}

check() {
	same_as_in "$T/$1.got"
}

SPEC() {
	echo "zcopy: spec 'unix-listen:$1'"
}

@test "a second listener on a live path: exit 1, the first keeps its client" {
	live_path
	[ ! -e "$T/second.got" ]
}
@test "a stale socket file is replaced" { stale_path; }
@test "a socket file replaced under a listener is not removed by it" {
	replaced_path
}
@test "a symbolic link at the path is neither followed nor removed" {
	symlink_path
}
@test "a regular file at the path is refused and left intact" { file_path; }
@test "a liveness probe that fails removes nothing" { probe_fails; }
