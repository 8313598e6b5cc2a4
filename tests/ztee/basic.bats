#!/usr/bin/env bats
# ztee as a tee: operands, -a, "-", options, messages, byte-exact copies.

load helpers

@test "EOF is seen: two lines written apart arrive whole" {
	(echo 1; sleep 0.1; echo 2) | "$ZTEE" >out
	[ "$(cat out)" = "$(printf '1\n2')" ]
}

@test "0, 1, 2, 13 and 100 operands all get every byte" {
	head -c 100000 /dev/urandom >in
	for n in 0 1 2 13 100; do
		files=$(seq -f "o$n-%g" "$n")
		# shellcheck disable=SC2086
		"$ZTEE" $files <in >out
		# shellcheck disable=SC2086
		same in out $files
	done
}

@test "-a on 13 files appends to what is there" {
	echo line >in
	for i in $(seq 13); do echo "old $i" >"f$i"; done
	"$ZTEE" -a $(seq -f 'f%g' 13) <in >out
	same in out
	for i in $(seq 13); do
		[ "$(cat "f$i")" = "$(printf 'old %s\nline' "$i")" ]
	done
	"$ZTEE" --append f1 <in >/dev/null
	[ "$(lines f1)" = 3 ]
}

@test "without -a outputs are truncated" {
	head -c 5000 /dev/urandom >big
	echo small >in
	cp big f
	"$ZTEE" f <in >/dev/null
	same in f
}

@test "an operand '-' is a file named '-' (POSIX, GNU 9.x)" {
	echo line >in
	"$ZTEE" - <in >out 2>err
	same in ./- out
	[ ! -s err ]
}

@test "a name with a colon is a file, as in GNU tee" {
	echo line >in
	"$ZTEE" a:b 12:30 host:80 <in >out
	same in a:b 12:30 host:80 out
}

@test "./NAME and file:NAME are files even when they look like sockets" {
	need_ztee
	echo line >in
	"$ZTEE" ./127.0.0.1:9 file:localhost:9 <in >out
	same in 127.0.0.1:9 localhost:9 out
}

@test "the line reaches standard output before input ends (unbuffered)" {
	mkfifo inp outp
	timeout 10 "$ZTEE" copy <inp >outp &
	PIDS+=($!)
	exec 7>inp 8<outp
	echo hello >&7
	read -r -t 5 got <&8
	[ "$got" = hello ]
	exec 7>&-
	read -r -t 5 rest <&8 || true
	exec 8<&-
	wait "${PIDS[0]}"
	PIDS=()
	[ "$(cat copy)" = hello ]
}

@test "an output that cannot be opened: one line, status 1, others complete" {
	seq 10000 >in
	run "$ZTEE" o1 ./e/noent o2 <in
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 10001 ]
	same in o1 o2
	"$ZTEE" o1 ./e/noent o2 <in >out 2>err && false
	[ "$(lines err)" = 1 ]
	grep -q 'e/noent' err
	same in out o1 o2
}

@test "a directory as output: one line, status 1" {
	echo x >in
	"$ZTEE" . o1 <in >out 2>err && false
	[ "$(lines err)" = 1 ]
	same in out o1
}

@test "/dev/full as one output: one line, status 1, the others complete" {
	[ -c /dev/full ] || skip "no /dev/full"
	seq 10000 >in
	"$ZTEE" /dev/full o2 <in >o1 2>err && false
	same in o1 o2
	[ "$(lines err)" = 1 ]
	grep -q '/dev/full' err
	"$ZTEE" o1 o2 <in >/dev/full 2>err && false
	same in o1 o2
	[ "$(lines err)" = 1 ]
	grep -q 'standard output' err
}

@test "/dev/full as every output: two lines, status 1, exits early" {
	[ -c /dev/full ] || skip "no /dev/full"
	yes | timeout 10 "$ZTEE" /dev/full >/dev/full 2>err && false
	[ "$(lines err)" = 2 ]
}

@test "read error: one line, status 1" {
	mkdir d
	"$ZTEE" out <d >/dev/null 2>err && false
	[ "$(lines err)" = 1 ]
	grep -q 'read error' err
}

@test "closed standard input: read error and standard input, status 1" {
	"$ZTEE" out <&- >/dev/null 2>err && false
	[ "$(lines err)" = 2 ]
}

@test "closed standard output: one line, status 1, files complete" {
	seq 1000 >in
	"$ZTEE" o1 <in >&- 2>err && false
	[ "$(lines err)" = 1 ]
	grep -q 'standard output' err
	same in o1
}

@test "-i ignores SIGINT" {
	mkfifo inp
	timeout 10 "$ZTEE" -i out <inp >/dev/null &
	pid=$!
	PIDS+=($pid)
	exec 7>inp
	echo one >&7
	sleep 0.2
	kill -INT "$pid"
	sleep 0.2
	echo two >&7
	exec 7>&-
	wait "$pid"
	PIDS=()
	[ "$(cat out)" = "$(printf 'one\ntwo')" ]
}

@test "without -i SIGINT ends it" {
	mkfifo inp
	timeout 10 "$ZTEE" out <inp >/dev/null &
	pid=$!
	PIDS+=($pid)
	exec 7>inp
	echo one >&7
	sleep 0.2
	kill -INT "$pid"
	run wait "$pid"
	PIDS=()
	exec 7>&-
	[ "$status" -eq 130 ]
}

@test "--help and --version go to standard output, status 0" {
	need_ztee
	run "$ZTEE" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == usage:\ ztee* ]]
	run "$ZTEE" --version
	[ "$status" -eq 0 ]
	[ "$output" = "ztee (zerocopy) $ZC_VERSION" ]
}

@test "a bad option: usage and Try line on stderr, status 1" {
	need_ztee
	"$ZTEE" -x </dev/null >out 2>err && false
	[ ! -s out ]
	grep -q "^Try 'ztee --help' for more information.$" err
	"$ZTEE" --bogus </dev/null >out 2>err && false
	grep -q "^Try 'ztee --help'" err
}

@test "--output-error: exact names and unambiguous prefixes, like GNU" {
	for t in "$ZTEE" "$GNU_TEE"; do
		"$t" --output-error=exit-nopipe </dev/null
		"$t" --output-error=warn-n </dev/null
		"$t" --output-error </dev/null
		"$t" --output-error=warn </dev/null
		run "$t" --output-error=x </dev/null
		[ "$status" -eq 1 ]
		run "$t" --output-error=e </dev/null
		[ "$status" -eq 1 ]
		[[ "$output" == *ambiguous* ]]
	done
}

@test "byte-exact: 0 B, 1 B, 1 MiB+1 from a pipe and a file" {
	: >s0
	head -c 1 /dev/urandom >s1
	head -c 1048577 /dev/urandom >s2
	for s in s0 s1 s2; do
		"$ZTEE" f1 f2 <"$s" >out
		same "$s" out f1 f2
		cat "$s" | "$ZTEE" f1 f2 | cat >out
		same "$s" out f1 f2
		"$ZTEE" f1 <"$s" | "$ZTEE" f2 >out
		same "$s" out f1 f2
	done
}

@test "byte-exact: --no-splice gives the same bytes" {
	need_ztee
	head -c 1048577 /dev/urandom >in
	cat in | "$ZTEE" --no-splice f1 f2 | cat >out
	same in out f1 f2
}

@test "fd:N outputs, O_APPEND outputs" {
	need_ztee
	head -c 300000 /dev/urandom >in
	echo old >app
	cp app want
	cat in >>want
	cat in | "$ZTEE" fd:3 fd:4 3>f3 4>>app >out
	same in out f3
	same want app
}

@test "a bad spec: one line naming it, status 1, the others complete" {
	need_ztee
	echo line >in
	"$ZTEE" o1 tcp: o2 <in >out 2>err && false
	[ "$(lines err)" = 1 ]
	grep -q "spec 'tcp:'" err
	same in out o1 o2
}

@test "-v prints one line per output, -P a progress line" {
	need_ztee
	head -c 100000 /dev/urandom >in
	"$ZTEE" -v o1 o2 <in >out 2>err
	same in out o1 o2
	[ "$(grep -c 'bytes' err)" = 3 ]
	grep -q 'standard output' err
	grep -q 'o2' err
	"$ZTEE" -P o1 <in >out 2>err
	same in out o1
	[ -s err ]
}
