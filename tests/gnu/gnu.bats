#!/usr/bin/env bats
# GNU coreutils conventions: ztee's messages and statuses byte for byte
# against GNU tee's for the same faults (LC_ALL=C), --help and --version
# that cannot be written, and zcopy -n against head -c.

: "${ZTEE:?ZTEE is not set}"
GNU_TEE=${GNU_TEE:-/usr/bin/tee}
GNU_HEAD=${GNU_HEAD:-/usr/bin/head}

setup() {
	export LC_ALL=C
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
	"$GNU_TEE" --version 2>/dev/null | grep -q 'GNU coreutils' ||
		skip "no GNU tee"
}

# Each program is run under its short name, as a user types it, so that
# getopt's messages start the same way.
tee_gnu() { (exec -a tee "$GNU_TEE" "$@"); }
tee_z() { (exec -a ztee "$ZTEE" "$@"); }

# both SCENARIO: runs the function SCENARIO with TEE naming GNU tee, in
# gnu/, then ztee, in z/; the statuses and standard errors must be the
# same, byte for byte, once GNU's "tee" reads "ztee".
both() {
	local t
	for t in gnu z; do
		mkdir -p "$t"
		(cd "$t" || exit 1; TEE=tee_$t; st=0
		    "$1" >out 2>err || st=$?; echo $st >st)
	done
	sed "s/^tee: /ztee: /; s/'tee --help'/'ztee --help'/" gnu/err >gnu.err
	# Explicit returns: errexit is off where "both" is a condition.
	diff -u gnu.err z/err || return 1
	diff -u gnu/st z/st || return 1
}

full_out() { seq 10000 | $TEE o1 /dev/full o2; }
full_stdout() { seq 10000 | $TEE o1 >/dev/full; }
dir_out() { seq 10 | $TEE o1 . >/dev/null; }
no_dir() { seq 10 | $TEE ./no/such o1 >/dev/null; }
closed_stdout() { seq 10 | $TEE o1 >&-; }
closed_stdin() { $TEE o1 <&- >/dev/null; }
dir_stdin() { $TEE o1 <. >/dev/null; }
names() {
	echo x | $TEE "no/a b" "no/a'b" 'no/a"b' $'no/a\tb' $'no/a\nb' \
	    $'no/\001' $'no/\377\303\251' 'no/a$b' 'no/a\b' 'no/a:b' \
	    'no/a=b' 'no/a,b' 'no/a{b}' '~x/' 'x~/' '#x/' "~'/" "#'/" \
	    $'\'\001/' $'no/a\'b\t' $'no/\t\'' "no/a'b'c d" "no/a'b*c" \
	    '' "no/'" 'no/-' >/dev/null
}
mode_empty() { $TEE --output-error= </dev/null; }
mode_bad() { $TEE --output-error=$'a\tb\'c\\\001' </dev/null; }
mode_ambiguous() { $TEE --output-error=e </dev/null; }
bad_option() { $TEE --bogus </dev/null; }
bad_short() { $TEE -x </dev/null; }
help_full() { $TEE --help >/dev/full; }
version_full() { $TEE --version >/dev/full; }
help_closed() { $TEE --help >&-; }

# The reader of standard output goes away; SIGPIPE ignored, so that each
# mode's own rule tells what happens (MODE empty: no option).
# seq's own complaint is left out: whether it meets EPIPE depends on how
# much the tee took before it stopped (ztee grows its input pipe).
gone() {
	(trap '' PIPE
	seq 200000 2>/dev/null | { $TEE $MODE o1 2>err2; echo $? >st2; } |
	    head -c 1 >/dev/null)
	cat err2 >&2
	return "$(cat st2)"
}

@test "/dev/full as an output" { both full_out; }
@test "/dev/full as standard output: 'standard output' quoted" {
	both full_stdout
	[ "$(cat z/err)" = "ztee: 'standard output': No space left on device" ]
}
@test "a directory as an output" { both dir_out; }
@test "an output in a directory that does not exist" { both no_dir; }
@test "standard output closed" { both closed_stdout; }
@test "standard input closed" { both closed_stdin; }
@test "standard input a directory" { both dir_stdin; }
@test "file names with spaces, quotes, control bytes, ~ and #" {
	mkdir no
	both names
	[ "$(wc -l <z/err)" -eq 26 ]
}
@test "an empty --output-error= is ambiguous" {
	both mode_empty
	grep -qx "ztee: ambiguous argument '' for '--output-error'" z/err
}
@test "an invalid --output-error, quoted with C escapes" { both mode_bad; }
@test "an ambiguous --output-error prefix" { both mode_ambiguous; }
@test "a bad option: the getopt line and Try, no usage line" {
	both bad_option
	both bad_short
	[ "$(cat z/err)" = "ztee: invalid option -- 'x'
Try 'ztee --help' for more information." ]
}
@test "--help and --version on a full or closed standard output" {
	both help_full
	[ "$(cat z/err)" = "ztee: write error: No space left on device" ]
	[ "$(cat z/st)" = 1 ]
	both version_full
	both help_closed
	[ "$(cat z/err)" = "ztee: write error: Bad file descriptor" ]
}
@test "EPIPE on standard output in each --output-error mode" {
	for MODE in "" -p --output-error --output-error=warn \
	    --output-error=warn-nopipe --output-error=exit \
	    --output-error=exit-nopipe; do
		rm -rf gnu z
		both gone || { echo "mode '$MODE'"; return 1; }
	done
}

@test "--help and --version >/dev/full: write error, status 1, all three" {
	for p in "$ZCOPY" "$ZTEE" "$ZCAT_NET"; do
		name=${p##*/}
		for o in --help --version; do
			st=0
			"$p" "$o" </dev/null >/dev/full 2>err || st=$?
			[ "$st" -eq 1 ]
			[ "$(cat err)" = "$name: write error: No space left on device" ]
			st=0
			"$p" "$o" </dev/null >&- 2>err || st=$?
			[ "$st" -eq 1 ]
			[ "$(cat err)" = "$name: write error: Bad file descriptor" ]
			"$p" "$o" >out 2>err
			[ -s out ]
			[ ! -s err ]
		done
	done
	st=0
	"$ZCAT_NET" -h >/dev/full 2>err || st=$?
	[ "$st" -eq 1 ]
}

@test "zcopy -n reads sizes as head -c does, and says what head says" {
	head -c 3000000 /dev/urandom >in
	for n in 0 1 010 0010 1b 3b 1k 1K 1KiB 1kiB 1kB 1KB 1KD 1m 1M 1MiB \
	    1MB 1mB 2MD; do
		"$ZCOPY" -n "$n" in out
		"$GNU_HEAD" -c "$n" in >want
		cmp out want || { echo "size $n"; return 1; }
	done
	for n in 1kk 4Mx 1Ki 1B 1bB 1KIB 1g 1e3 0x10 1.5 1k5 "" \
	    99999999999999999999 16E 19EB; do
		run --separate-stderr "$ZCOPY" -n "$n" in out
		[ "$status" -eq 1 ]
		want=$("$GNU_HEAD" -c "$n" in 2>&1 >/dev/null) && false
		[ "$stderr" = "zcopy: ${want#*: }" ] ||
			{ echo "'$n': $stderr / $want"; return 1; }
	done
	# Where head is lenient (a sign, a space before), zcopy refuses.
	for n in -1 +1 " 1"; do
		run --separate-stderr "$ZCOPY" -n "$n" in out
		[ "$status" -eq 1 ]
		[ "$stderr" = "zcopy: invalid number of bytes: '$n'" ]
	done
}
