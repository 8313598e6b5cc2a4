#!/usr/bin/env bats
# A sparse file larger than 4 GiB, with data past the 4 GiB mark.

load common

setup_file() {
	local f=$BATS_FILE_TMPDIR/sparse off
	truncate -s 5G "$f"
	# random blocks at 1 MiB, just below and past 4 GiB, near the end
	for off in 1 4095 4097 4600 5119; do
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
	for mode in ""; do
		timeout 120 "$ZCOPY" -v $mode "$S" 2>"$T/err" | cksum >"$T/sum"
		cmp "$T/sum" "$S.cksum"
		check_stats "$T/err" 5368709120
	done
}

@test "file to file at offsets past 4 GiB" {
	# the last 1 GiB minus 1 MiB, from and to offsets past 4 GiB
	off=$((4097 * 1048576))
	len=$((5368709120 - off))
	for mode in "" --no-splice; do
		rm -f "$T/out"
		timeout 120 "$PYTHON" "$HELPERS/seekrun.py" \
		    3 r "$S" "$off" 4 w "$T/out" "$off" -- \
		    "$ZCOPY" -v $mode fd:3 fd:4 2>"$T/err"
		check_stats "$T/err" "$len"
		[ "$(stat -c %s "$T/out")" -eq 5368709120 ]
		cmp <(tail -c "$len" "$T/out") <(tail -c "$len" "$S")
		cmp -n "$off" "$T/out" /dev/zero
	done
}

@test "-n 4G+1 from a sparse file, and -n past the end" {
	timeout 120 "$ZCOPY" -v -n 4294967297 "$S" 2>"$T/err" |
	    cksum >"$T/sum"
	head -c 4294967297 "$S" | cksum >"$T/want"
	cmp "$T/sum" "$T/want"
	check_stats "$T/err" 4294967297
}
