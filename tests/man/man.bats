#!/usr/bin/env bats
# The manual pages are well formed and say what the programs say.

MANDIR="$TESTS_SRCDIR/../man"

@test "every man page passes mandoc -Tlint" {
	for f in "$MANDIR"/*.[137]; do
		run mandoc -Tlint -W warning "$f"
		[ "$status" -eq 0 ] || { echo "$f: $output"; return 1; }
	done
}

@test "every man page has been written" {
	run grep -l 'being written' "$MANDIR"/*.[137]
	[ "$status" -eq 1 ]
}

# Every option that PROG --help lists is documented in PROG.1.
check_options() {
	local prog=$1 page=$2 help opt
	help=$("$prog" --help)
	for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u); do
		grep -qE "Fl (\\\\?-|Fl )${opt#--}([^a-z0-9-]|\$)" "$page" ||
			{ echo "$page: no $opt"; return 1; }
	done
	for opt in $(grep -oE -- '(^|[[ ])-[a-zA-Z0-9]' <<<"$help" |
	    grep -oE -- '[a-zA-Z0-9]$' | sort -u); do
		grep -qE "Fl [a-zA-Z0-9]*${opt}" "$page" ||
			{ echo "$page: no -$opt"; return 1; }
	done
}

@test "zcopy --help matches zcopy.1" {
	check_options "$ZCOPY" "$MANDIR/zcopy.1"
}

@test "ztee --help matches ztee.1" {
	check_options "$ZTEE" "$MANDIR/ztee.1"
}

@test "zcat-net --help matches zcat-net.1" {
	check_options "$ZCAT_NET" "$MANDIR/zcat-net.1"
}

@test "--version names the program and the version" {
	for p in "$ZCOPY" "$ZTEE" "$ZCAT_NET"; do
		run "$p" --version
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "$(basename "$p") (zerocopy) $ZC_VERSION" ]
	done
}
