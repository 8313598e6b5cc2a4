# The cross product of source and sink kinds at small sizes; the two
# matrix bats files set MODE ("" or --no-splice) and load this.

SIZES="0 1 65535 65537 1048577"

setup_file() {
	local s
	for s in $SIZES; do
		mkdata "$BATS_FILE_TMPDIR/d$s" "$s"
	done
}

setup() {
	T=$BATS_TEST_TMPDIR
}

teardown() {
	kill_peers
}

pair() {
	local s
	for s in $SIZES; do
		check_xfer "$1" "$2" "$BATS_FILE_TMPDIR/d$s" $MODE
	done
}
