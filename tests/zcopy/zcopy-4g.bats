#!/usr/bin/env bats
# A sparse file larger than 4 GiB, with data past the 4 GiB mark.

load common

setup_file() {
	local f=$BATS_FILE_TMPDIR/sparse off
	truncate -s 5G "$f"
	# random blocks at 1 MiB, just below and past 4 GiB, near the end
	for off in 1 4095 4097 4600 4900 5119; do
		head -c 1048576 /dev/urandom |
		    dd of="$f" bs=1M seek="$off" conv=notrunc status=none
	done
	cksum <"$f" >"$f.cksum"
}

setup() {
	T=$BATS_TEST_TMPDIR
	S=$BATS_FILE_TMPDIR/sparse
}

@test "a 5 GiB file to a pipe: the same bytes as the file" {
	timeout 120 "$ZCOPY" -v "$S" 2>"$T/err" | cksum >"$T/sum"
	cmp "$T/sum" "$S.cksum"
	check_stats "$T/err" 5368709120
}

@test "file to file at offsets past 4 GiB" {
	# the last 256 MiB, from and to offsets past 4 GiB
	off=$((4864 * 1048576))
	len=$((5368709120 - off))
	for mode in "" --no-splice; do
		rm -f "$T/out"
		timeout 120 "$PYTHON" "$HELPERS/seekrun.py" \
		    3 r "$S" "$off" 4 w "$T/out" "$off" -- \
		    "$ZCOPY" -v $mode fd:3 fd:4 2>"$T/err"
		check_stats "$T/err" "$len"
		[ "$(stat -c %s "$T/out")" -eq 5368709120 ]
		cmp -i "$off" "$T/out" "$S"
	done
}

@test "-n around the 4 GiB mark" {
	# 2 MiB + 1 starting 1 MiB below 4 GiB
	off=$((4095 * 1048576))
	for mode in "" --no-splice; do
		timeout 60 "$PYTHON" "$HELPERS/seekrun.py" 3 r "$S" "$off" -- \
		    "$ZCOPY" -v $mode -n 2097153 fd:3 2>"$T/err" >"$T/out"
		check_stats "$T/err" 2097153
		cmp -i "0:$off" -n 2097153 "$T/out" "$S"
		[ "$(stat -c %s "$T/out")" -eq 2097153 ]
	done
	# a count above 32 bits
	timeout 60 "$ZCOPY" -v -n 4294967297 "$S" /dev/null 2>"$T/err"
	check_stats "$T/err" 4294967297
	timeout 60 "$ZCOPY" -v -n 5G "$S" /dev/null 2>"$T/err"
	check_stats "$T/err" 5368709120
	timeout 60 "$ZCOPY" -v -n 6G "$S" /dev/null 2>"$T/err"
	check_stats "$T/err" 5368709120
}
