#!/usr/bin/env bats
# 100 MiB through a representative set of pairs, and flat memory use.

load common
load xfer

setup_file() {
	mkdata "$BATS_FILE_TMPDIR/d100m" 104857600
	mkdata "$BATS_FILE_TMPDIR/d1m" 1048576
}

setup() {
	T=$BATS_TEST_TMPDIR
	D=$BATS_FILE_TMPDIR/d100m
}

teardown() {
	kill_peers
}

@test "100 MiB: file to file, to a pipe, to TCP" {
	check_xfer file file "$D"
	check_xfer file pipe "$D"
	check_xfer file tcp "$D"
}

@test "100 MiB: pipe to file, pipe to pipe, FIFO to a unix socket" {
	check_xfer pipe file "$D"
	check_xfer pipe pipe "$D"
	check_xfer fifo unix "$D"
}

@test "100 MiB: TCP to file, unix socket to a pipe, TCP to TCP" {
	check_xfer tcp file "$D"
	check_xfer unix pipe "$D"
	check_xfer tcp tcp "$D"
}

@test "100 MiB with --no-splice: file to pipe, pipe to file, TCP to file" {
	check_xfer file pipe "$D" --no-splice
	check_xfer pipe file "$D" --no-splice
	check_xfer tcp file "$D" --no-splice
}

# Prints zcopy's maximum resident set size in KiB for: zcopy ARGS...
maxrss() {
	local kb
	/usr/bin/time -f %M -o "$T/rss" "$@" || return 1
	kb=$(tail -1 "$T/rss")
	echo "$kb"
}

@test "memory stays flat: 100 MiB needs no more than 1 MiB" {
	[ -x /usr/bin/time ] || skip "/usr/bin/time not installed"
	if ldd "$ZCOPY" | grep -q -e libasan -e libubsan; then
		skip "built with sanitizers"
	fi
	for mode in "" --no-splice; do
		for how in file-file file-pipe pipe-file file-null; do
			for d in "$BATS_FILE_TMPDIR/d1m" "$D"; do
				case $how in
				file-file) maxrss "$ZCOPY" $mode "$d" "$T/out" ;;
				file-pipe) maxrss "$ZCOPY" $mode "$d" |
				    cat >/dev/null ;;
				pipe-file) cat "$d" |
				    maxrss "$ZCOPY" $mode - "$T/out" ;;
				file-null) maxrss "$ZCOPY" $mode "$d" /dev/null ;;
				esac
				rss+=("$(tail -1 "$T/rss")")
			done
			echo "$how $mode: ${rss[0]} KiB for 1 MiB," \
			    "${rss[1]} KiB for 100 MiB"
			[ "${rss[1]}" -lt 4096 ]
			[ $((rss[1] - rss[0])) -lt 1024 ]
			rss=()
		done
	done
}
