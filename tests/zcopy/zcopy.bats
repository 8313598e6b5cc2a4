#!/usr/bin/env bats
# Options, messages, exit statuses, -n, -a, offsets, progress.

load common

setup_file() {
	mkdata "$BATS_FILE_TMPDIR/data" 100000
	mkdata "$BATS_FILE_TMPDIR/big" 8388608
}

setup() {
	T=$BATS_TEST_TMPDIR
	D=$BATS_FILE_TMPDIR/data
	B=$BATS_FILE_TMPDIR/big
	cd "$T"
}

teardown() {
	kill_peers
}

@test "--help and --version print to stdout and exit 0" {
	run --separate-stderr timeout 10 "$ZCOPY" --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ ${lines[0]} == "usage: zcopy [-aPv] [-L rate] [-n count] [-w seconds] [--no-splice] [src [dst]]" ]]
	for o in --append --count --progress --rate-limit --stats --timeout \
	    --no-splice --help --version; do
		[[ $output == *"$o"* ]]
	done
	run --separate-stderr timeout 10 "$ZCOPY" --version
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "zcopy (zerocopy) $ZC_VERSION" ]
}

@test "the usage line matches the man page SYNOPSIS" {
	man=$TESTS_SRCDIR/../man/zcopy.1
	[ -f "$man" ] || skip "no man page"
	synopsis=$(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$man" |
	    grep -c -e '^\.Op Fl aPv$' -e '^\.Op Fl n Ar count$' \
	    -e '^\.Op Fl L Ar rate$' \
	    -e '^\.Op Fl w Ar seconds$' -e '^\.Op Fl -no-splice$' \
	    -e '^\.Op Ar src Op Ar dst$')
	[ "$synopsis" -eq 6 ]
}

@test "bad options and operands: usage, the Try line, exit 1" {
	for args in "-x" "--bogus" "-n" "a b c" "--count"; do
		run --separate-stderr timeout 10 "$ZCOPY" $args </dev/null
		[ "$status" -eq 1 ]
		[ -z "$output" ]
		[[ ${stderr_lines[-2]} == "usage: zcopy "* ]]
		[ "${stderr_lines[-1]}" = "Try 'zcopy --help' for more information." ]
	done
}

@test "bad sizes and timeouts: one message, exit 1" {
	for n in 1.5k -1 "" 10x 1kk 4Mx; do
		run --separate-stderr timeout 10 "$ZCOPY" -n "$n" "$D" out
		[ "$status" -eq 1 ]
		[ "$stderr" = "zcopy: invalid number of bytes: '$n'" ]
	done
	for n in 16E 99999999999999999999; do
		run --separate-stderr timeout 10 "$ZCOPY" -n "$n" "$D" out
		[ "$status" -eq 1 ]
		[ "$stderr" = "zcopy: invalid number of bytes: '$n': Value too large for defined data type" ]
	done
	[ ! -e out ]
	for w in 0 -3 x 99999999999; do
		run --separate-stderr timeout 10 "$ZCOPY" -w "$w" "$D" out
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "zcopy: timeout '$w': "* ]]
	done
}

@test "standard input to standard output by default, and '-'" {
	timeout 20 "$ZCOPY" <"$D" >out1
	same out1 "$D"
	timeout 20 "$ZCOPY" - <"$D" >out2
	same out2 "$D"
	timeout 20 "$ZCOPY" - - <"$D" >out3
	same out3 "$D"
	timeout 20 "$ZCOPY" "$D" >out4
	same out4 "$D"
}

@test "output files are created and truncated, -a appends" {
	printf 'x%.0s' $(seq 200000) >out
	timeout 20 "$ZCOPY" "$D" out
	same out "$D"
	printf 'old\n' >app
	timeout 20 "$ZCOPY" -v -a "$D" app 2>err
	{ printf 'old\n'; cat "$D"; } >want
	same app want
	check_stats err 100000
	timeout 20 "$ZCOPY" --append "$D" new
	same new "$D"
	umask 022
	timeout 20 "$ZCOPY" "$D" mode
	[ "$(stat -c %a mode)" = 644 ]
}

@test "O_APPEND output falls back where it must and stays exact" {
	for src in file pipe; do
		for mode in "" --no-splice; do
			printf 'old\n' >app
			if [[ $src == file ]]; then
				timeout 20 "$ZCOPY" -v $mode "$B" >>app 2>err
			else
				cat "$B" | timeout 20 "$ZCOPY" -v $mode >>app 2>err
			fi
			{ printf 'old\n'; cat "$B"; } >want
			same app want
			check_stats err 8388608
			printf 'old\n' >app2
			timeout 20 "$ZCOPY" $mode -a "$B" app2 </dev/null
			same app2 want
		done
	done
}

@test "-n below, equal to and above the length, -n 0, suffixes" {
	for n in 0 1 99999 100000 100001 1000000 64k 1k 1K 1m; do
		want=$(numfmt --from=iec "${n^^}")
		[ "$want" -le 100000 ] || want=100000
		for mode in "" --no-splice; do
			timeout 20 "$ZCOPY" -v $mode -n "$n" "$D" out 2>err
			head -c "$want" "$D" >want
			same out want
			check_stats err "$want"
			cat "$D" | timeout 20 "$ZCOPY" $mode --count="$n" >out
			same out want
		done
	done
}

@test "-n takes exactly that many bytes from a pipe, nothing more" {
	for mode in "" --no-splice; do
		for n in 1 4096 65536 65537 1000000; do
			cat "$B" | { timeout 20 "$ZCOPY" $mode -n "$n" >a &&
			    cat >b; }
			cat a b >ab
			same ab "$B"
			[ "$(stat -c %s a)" -eq "$n" ]
		done
	done
}

@test "files are read from their current offset, which advances" {
	for mode in "" --no-splice; do
		{
			timeout 20 "$ZCOPY" $mode -n 1000 >a
			timeout 20 "$ZCOPY" $mode -n 5000 - b
			timeout 20 "$ZCOPY" $mode >c
		} <"$D"
		cat a b c >abc
		same abc "$D"
		[ "$(stat -c %s a)" -eq 1000 ]
		[ "$(stat -c %s b)" -eq 5000 ]
		# and written at it
		{ printf 'head'; timeout 20 "$ZCOPY" $mode "$D" fd:1; } >o
		{ printf 'head'; cat "$D"; } >want
		same o want
	done
}

@test "input file is output file is refused" {
	cp "$D" f
	for dst in f ./f file:f - fd:1; do
		st=0
		timeout 10 "$ZCOPY" f "$dst" >>f 2>err || st=$?
		[ "$st" -eq 1 ]
		one_line err "^zcopy: spec '$dst': input file is output file$"
	done
	same f "$D"
}

@test "bad endpoints: exit 1 and one 'zcopy: spec' line" {
	port=$(free_port)
	peer socat -u OPEN:/dev/null "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr"
	wait_tcp "$port"
	refused=$(free_port)
	mkdir dir
	both=("" "fd:" "fd:x" "fd:-1" "fd:77" "missing/file" \
	    "127.0.0.1:$refused" "tcp:127.0.0.1:$refused" \
	    "no-such-host.invalid:80" "127.0.0.1:" "[::1" "[::1]:" \
	    "tcp:" "listen:" "listen:99999" "listen:127.0.0.1:$port" \
	    "unix:" "unix:$T/nosock" "unix-listen:" \
	    "unix-listen:$T/no/dir/sock")
	for spec in "${both[@]}" "+file:missing" "+dir/missing"; do
		sides="src dst"
		if [[ $spec == +* ]]; then
			spec=${spec#+}
			sides=src
		fi
		for side in $sides; do
			if [[ $side == src ]]; then
				run --separate-stderr timeout 20 "$ZCOPY" -w 5 \
				    "$spec" out
			else
				run --separate-stderr timeout 20 "$ZCOPY" -w 5 \
				    "$D" "$spec"
			fi
			echo "$side '$spec': $status: $stderr"
			[ "$status" -eq 1 ]
			[ "${#stderr_lines[@]}" -eq 1 ]
			[[ $stderr == "zcopy: spec '$spec': "?* ]]
			[ -z "$output" ]
		done
	done
	# the specific reasons
	run --separate-stderr timeout 10 "$ZCOPY" missing/file
	[ "$stderr" = "zcopy: spec 'missing/file': No such file or directory" ]
	run --separate-stderr timeout 10 "$ZCOPY" fd:77
	[ "$stderr" = "zcopy: spec 'fd:77': Bad file descriptor" ]
	run --separate-stderr timeout 10 "$ZCOPY" "127.0.0.1:$refused"
	[ "$stderr" = "zcopy: spec '127.0.0.1:$refused': Connection refused" ]
	run --separate-stderr timeout 10 "$ZCOPY" "listen:127.0.0.1:$port"
	[ "$stderr" = "zcopy: spec 'listen:127.0.0.1:$port': Address already in use" ]
	kill_peers
}

@test "-w bounds accept" {
	port=$(free_port)
	start=$SECONDS
	run --separate-stderr timeout 20 "$ZCOPY" -w 1 "listen:127.0.0.1:$port"
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: spec 'listen:127.0.0.1:$port': Connection timed out" ]
	[ $((SECONDS - start)) -le 5 ]
	run --separate-stderr timeout 20 "$ZCOPY" --timeout=1 "$D" \
	    "unix-listen:$T/s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "zcopy: spec 'unix-listen:$T/s': Connection timed out" ]
}

@test "/dev/full as output: exit 1, No space left on device" {
	for mode in "" --no-splice; do
		run --separate-stderr timeout 10 "$ZCOPY" $mode "$D" /dev/full
		[ "$status" -eq 1 ]
		[ "$stderr" = "zcopy: write error on '/dev/full': No space left on device" ]
		run --separate-stderr sh -c 'cat "$2" | timeout 10 "$1" $3 >/dev/full' \
		    sh "$ZCOPY" "$D" "$mode"
		[ "$status" -eq 1 ]
		[ "$stderr" = "zcopy: write error: No space left on device" ]
	done
}

@test "a broken pipe on output: exit 1 and one message" {
	for mode in "" --no-splice; do
		for src in file pipe; do
			if [[ $src == file ]]; then
				timeout 20 "$ZCOPY" $mode "$B" 2>err | head -c 10 >h
				st=${PIPESTATUS[0]}
			else
				cat "$B" 2>/dev/null |
				    timeout 20 "$ZCOPY" $mode 2>err |
				    head -c 10 >h
				st=${PIPESTATUS[1]}
			fi
			[ "$st" -eq 1 ]
			one_line err "^zcopy: write error: Broken pipe$"
			head -c 10 "$B" | cmp - h
		done
	done
}

@test "a peer that closes early: exit 1 and one write error" {
	port=$(free_port)
	peer socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" \
	    SYSTEM:'head -c 10 >/dev/null'
	wait_tcp "$port"
	run --separate-stderr timeout 20 "$ZCOPY" "$B" "127.0.0.1:$port"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr =~ ^"zcopy: write error on '127.0.0.1:$port': "(Broken pipe|Connection reset by peer)$ ]]
	kill_peers
}

@test "a read error: exit 1 and one read error message" {
	run --separate-stderr timeout 10 "$ZCOPY" . out
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr =~ ^"zcopy: "("read error on '.': Is a directory"|"spec '.': Is a directory")$ ]]
}

@test "-v: one stats line with bytes, time, rate and methods" {
	timeout 20 "$ZCOPY" -v "$D" out 2>err
	one_line err '^zcopy: 100000 bytes in [0-9]+\.[0-9]{3} s \([0-9.]+ ?[KMGT]?i?B/s\): [a-z_-]+ [0-9]+'
	check_stats err 100000
	timeout 20 "$ZCOPY" --stats --no-splice "$D" out 2>err
	one_line err '^zcopy: 100000 bytes in .*: read-write 100000$'
	timeout 20 "$ZCOPY" -v /dev/null out 2>err
	one_line err '^zcopy: 0 bytes in [0-9.]+ s \(0 B/s\)$'
}

@test "-P without a terminal: one final line with size and 100%" {
	timeout 20 "$ZCOPY" -P "$D" out 2>err
	same out "$D"
	one_line err '^97\.7KiB 0:00:0[0-9] \[[0-9.]+[KMGT]?i?B/s\] 100%$'
	cat "$D" | timeout 20 "$ZCOPY" --progress -n 50000 >out 2>err
	one_line err '^48\.8KiB .* 100%$'
	cat "$D" | timeout 20 "$ZCOPY" -P >out 2>err
	one_line err '^97\.7KiB 0:00:0[0-9] \[[0-9.]+[KMGT]?i?B/s\]$'
	timeout 20 "$ZCOPY" -Pv "$D" out 2>err
	[ "$(wc -l <err)" -eq 2 ]
}

@test "-P on a terminal: redrawn with CR a few times a second, then a newline" {
	command -v pv >/dev/null || skip "pv not installed"
	head -c 1572864 "$B" >in
	# about 1.5 s of a rate-limited pipe, stderr on a pty
	start=$(date +%s%N)
	timeout 30 "$PYTHON" "$HELPERS/ptyrun.py" --stderr err -- sh -c \
	    'pv -q -L 1m "$1" | "$2" -P >"$3"' sh in "$ZCOPY" out
	ms=$((($(date +%s%N) - start) / 1000000))
	same out in
	redraws=$(tr -cd '\r' <err | wc -c)
	echo "$redraws redraws in $ms ms"
	[ "$redraws" -ge 3 ]
	[ "$redraws" -le $((ms * 4 / 1000 + 3)) ]
	[ "$(tail -c 1 err | od -An -c | tr -d ' ')" = '\n' ]
	[[ $(tr '\r' '\n' <err | tail -1) =~ ^"1.50MiB 0:00:0"[0-9]" ["[0-9.]+[KMG]?i?B/s\]\ *$ ]]
}

@test "a terminal as output gets every byte" {
	head -c 300000 "$B" >in
	for mode in "" --no-splice; do
		timeout 30 "$PYTHON" "$HELPERS/ptyrun.py" --stdout out -- \
		    "$ZCOPY" $mode in
		same out in
		cat in | timeout 30 "$PYTHON" "$HELPERS/ptyrun.py" --stdout out \
		    -- "$ZCOPY" $mode
		same out in
	done
}
