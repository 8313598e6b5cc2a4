#!/usr/bin/env bash
# A small built-in demo: zcopy moves 64 MiB file to file, through pipes and
# over a TCP connection on 127.0.0.1, and every copy is checked byte for byte.
# The temporary directory is removed however the demo ends.
set -euo pipefail
BUILD=${1:-build}
ZCOPY="$BUILD/cmd/zcopy"
tmp=$(mktemp -d)
cleanup() {
	local pids
	pids=$(jobs -p)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill $pids 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

head -c 64M /dev/urandom >"$tmp/in"
want=$(sha256sum <"$tmp/in" | cut -d' ' -f1)
check() {
	local got
	got=$(sha256sum <"$1" | cut -d' ' -f1)
	[ "$got" = "$want" ] || { echo "demo: $2: checksum mismatch" >&2; exit 1; }
	echo "demo: $2: 64 MiB, sha256 ok"
}

"$ZCOPY" -v "$tmp/in" "$tmp/file"
check "$tmp/file" "file to file"

"$ZCOPY" "$tmp/in" | "$ZCOPY" -v | "$ZCOPY" - "$tmp/pipe"
check "$tmp/pipe" "file to pipe to pipe to file"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$ZCOPY" -v -w 10 "listen:127.0.0.1:$port" "$tmp/tcp" &
listener=$!
for _ in $(seq 50); do
	"$ZCOPY" "$tmp/in" "127.0.0.1:$port" 2>/dev/null && break
	sleep 0.1
done
wait "$listener"
check "$tmp/tcp" "file over TCP to file"
