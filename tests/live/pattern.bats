#!/usr/bin/env bats
# zc-pattern, the offset pattern of the live-stream tests: a slice cut
# anywhere is placed and checked, a changed byte is found, the pacing
# holds, and sub reads a TCP and a unix socket.

: "${TESTS_BUILDDIR:?TESTS_BUILDDIR is not set}"
PAT=${ZC_PATTERN:-$TESTS_BUILDDIR/live/zc-pattern}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

@test "gen | check: the whole stream from offset 0" {
	run bash -c "'$PAT' gen 10000003 | '$PAT' check"
	[ "$status" -eq 0 ]
	[ "$output" = "0 10000003" ]
}

@test "the bytes are the offsets, little-endian" {
	"$PAT" gen 24 | od -An -tx1 -v | tr -d ' \n' >hex
	[ "$(cat hex)" = 000000000000000008000000000000001000000000000000 ]
	"$PAT" gen -o 9 7 | od -An -tx1 -v | tr -d ' \n' >hex
	[ "$(cat hex)" = 00000000000000 ]
	"$PAT" gen -o 16 3 | od -An -tx1 -v | tr -d ' \n' >hex
	[ "$(cat hex)" = 100000 ]
}

@test "a slice cut at any byte offset is placed" {
	"$PAT" gen 1000000 >all
	for skip in 0 1 2 3 4 5 6 7 8 9 12345 999983; do
		run bash -c "tail -c +$((skip + 1)) all | head -c 17 | '$PAT' check"
		[ "$status" -eq 0 ]
		[ "$output" = "$skip 17" ]
	done
	run bash -c "tail -c 777777 all | '$PAT' check -n 777777"
	[ "$status" -eq 0 ]
	[ "$output" = "222223 777777" ]
	run bash -c "'$PAT' gen -o 333333 4096 | '$PAT' check"
	[ "$output" = "333333 4096" ]
}

@test "a changed byte is told, with its position, status 1" {
	"$PAT" gen 1000000 | tail -c +100002 >slice	# offset 100001
	printf 'Z' | dd of=slice bs=1 seek=54321 conv=notrunc status=none
	run "$PAT" check <slice
	[ "$status" -eq 1 ]
	[ "$output" = "zc-pattern: bad byte at 54321 of the input (stream offset 154322): 0x5a, want 0x02" ]
	# Two slices glued together are not one slice.
	{ "$PAT" gen 1000; "$PAT" gen -o 2000 1000; } >two
	run "$PAT" check <two
	[ "$status" -eq 1 ]
	[[ $output == *"bad byte at 1000 of the input (stream offset 1000)"* ]]
	# A byte missing.
	{ "$PAT" gen 1000; "$PAT" gen -o 1001 1000; } >gap
	run "$PAT" check <gap
	[ "$status" -eq 1 ]
	# Not the pattern at all.
	head -c 4096 /dev/urandom >rand
	run "$PAT" check <rand
	[ "$status" -eq 1 ]
	[[ $output == *"are not the pattern at any offset"* ]]
}

@test "too few bytes: no byte is '0 0', -n sets a floor, 1-15 fail" {
	run "$PAT" check </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "0 0" ]
	run "$PAT" check -n 1 </dev/null
	[ "$status" -eq 1 ]
	run bash -c "'$PAT' gen 100 | '$PAT' check -n 101"
	[ "$status" -eq 1 ]
	[ "$output" = "zc-pattern: 100 bytes, want at least 101" ]
	run bash -c "'$PAT' gen -o 5 15 | '$PAT' check"
	[ "$status" -eq 1 ]
	[ "$output" = "zc-pattern: 15 bytes that cannot be placed" ]
	run bash -c "'$PAT' gen -o 5 16 | '$PAT' check"
	[ "$output" = "5 16" ]
}

@test "gen -r paces the stream" {
	start=$(date +%s%N)
	run bash -c "'$PAT' gen -r 40M 40M | '$PAT' check"
	end=$(date +%s%N)
	[ "$output" = "0 41943040" ]
	ms=$(( (end - start) / 1000000 ))
	[ "$ms" -ge 950 ] || { echo "$ms ms"; false; }
	[ "$ms" -lt 5000 ] || { echo "$ms ms"; false; }
}

# Serves FILE once on a TCP port of 127.0.0.1 (or the unix socket PATH);
# sets PORT.
serve() {
	python3 - "$@" <<'PY' &
import os, socket, sys
data, where = sys.argv[1], sys.argv[2]
if where.startswith('/') or '/' in where:
    s = socket.socket(socket.AF_UNIX)
    s.bind(where)
    port = 0
else:
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
s.listen(1)
s.settimeout(20)
with open(where + '.port' if port == 0 else 'port.tmp', 'w') as f:
    f.write(str(port))
if port:
    os.rename('port.tmp', 'port')
c, _ = s.accept()
with open(data, 'rb') as f:
    try:
        while True:
            b = f.read(65536)
            if not b:
                break
            c.sendall(b)
    except OSError:
        pass
c.close()
PY
	SRV=$!
	for _ in $(seq 100); do
		[ -s port ] || [ -s "$2.port" ] && break
		sleep 0.05
	done
	PORT=$(cat port 2>/dev/null || :)
}

@test "sub reads, checks and leaves after -b bytes or at end" {
	"$PAT" gen -o 3 3000000 >data
	serve data tcp
	run timeout 20 "$PAT" sub 127.0.0.1 "$PORT"
	wait "$SRV"
	[ "$status" -eq 0 ]
	[ "$output" = "3 3000000" ]
	rm -f port
	serve data tcp
	run timeout 20 "$PAT" sub -b 1000 -l local 127.0.0.1 "$PORT"
	wait "$SRV"
	[ "$status" -eq 0 ]
	[ "$output" = "3 1000" ]
	[[ $(cat local) =~ ^127\.0\.0\.1:[0-9]+$ ]]
	rm -f port
	printf 'Z' | dd of=data bs=1 seek=2000000 conv=notrunc status=none
	serve data tcp
	run timeout 20 "$PAT" sub 127.0.0.1 "$PORT"
	wait "$SRV"
	[ "$status" -eq 1 ]
	[[ $output == *"bad byte at 2000000 of the input"* ]]
}

@test "sub -U reads a unix socket, -t leaves after the time" {
	"$PAT" gen 3000000 >data
	serve data "$BATS_TEST_TMPDIR/s.sock"
	run timeout 20 "$PAT" sub -U -n 3000000 "$BATS_TEST_TMPDIR/s.sock"
	wait "$SRV"
	[ "$status" -eq 0 ]
	[ "$output" = "0 3000000" ]
	rm -f s.sock s.sock.port
	serve data "$BATS_TEST_TMPDIR/s.sock"
	run timeout 20 "$PAT" sub -U -r 1M -t 0.5 "$BATS_TEST_TMPDIR/s.sock"
	wait "$SRV"
	[ "$status" -eq 0 ]
	read -r off len <<<"$output"
	[ "$off" -eq 0 ]
	[ "$len" -gt 100000 ] && [ "$len" -lt 1500000 ] || { echo "$output"; false; }
}

@test "stall connects and never reads; sub -s stops reading and stays" {
	"$PAT" gen 50000000 >data
	serve data tcp
	timeout 20 "$PAT" stall -l local 127.0.0.1 "$PORT" &
	st=$!
	for _ in $(seq 100); do [ -s local ] && break; sleep 0.05; done
	[[ $(cat local) =~ ^127\.0\.0\.1:[0-9]+$ ]]
	sleep 0.5
	kill -0 "$SRV"		# the server is still blocked in sendall
	kill "$st"
	wait "$SRV" || :
	rm -f port
	serve data tcp
	timeout 20 "$PAT" sub -r 10M -s 0.3 127.0.0.1 "$PORT" >got &
	st=$!
	for _ in $(seq 100); do [ -s got ] && break; sleep 0.05; done
	sleep 0.3
	kill -0 "$st"		# still connected
	kill -0 "$SRV"
	read -r off len <got
	[ "$off" -eq 0 ]
	[ "$len" -gt 0 ] && [ "$len" -lt 50000000 ]
	kill "$st"
	wait "$SRV" || :
}
