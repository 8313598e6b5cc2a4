#!/usr/bin/env bats
# ztee unix-listen:PATH through the life of its socket file (see
# ../zcopy/unixsock.bash): it sends standard input to a zcopy client.

load ../zcopy/unixsock

serve() {
	IN=$T/in OUT=$T/$1.stdout bg "$1" "$ZTEE" "unix-listen:$2"
}

client() {
	timeout 20 "$ZCOPY" "unix:$2" "$T/$1.got"
}

second() {
	"${WRAP[@]}" timeout 10 "$ZTEE" "unix-listen:$1" <"$T/in" \
	    >"$T/second.stdout"
}

check() {
	same_as_in "$T/$1.got"
	same_as_in "$T/$1.stdout"
}

# A ':' makes GNU tee's quoting put the name in single quotes.
SPEC() {
	echo "ztee: 'unix-listen:$1'"
}

@test "a second listener on a live path: exit 1, the first keeps its client" {
	live_path
	# The output that failed does not stop standard output.
	same_as_in "$T/second.stdout"
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
