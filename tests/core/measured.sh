#!/bin/sh
# zc_transfer's measured choice into a socket (through zc-xfer -D, whose
# output is a unix socket): from a pipe and from a socket (-S), the
# default moves to read/write when strace makes splice(2) slow and to
# splicing when it makes write(2) slow; the forcing flags hold. Only
# zc-xfer itself is traced (no -f): its relaying children are not
# slowed. Usage: measured.sh ZC-XFER. Exit 0 pass, 1 fail, 77 skip.

X=$1
fails=0
T=$(mktemp -d /tmp/zc-measured.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT

strace -qq -o /dev/null -e trace=splice true 2>/dev/null ||
    { echo "strace does not work here"; exit 77; }

N=$((48 << 20))
head -c "$N" /dev/urandom > "$T/in"
want=$(sha256sum < "$T/in")

# count METHOD: its count in the last result line, 0 if not there.
count() {
	grep '^result' "$T/err" | tail -n 1 | tr ' ' '\n' |
	    sed -n "s/^$1=//p" | grep . || echo 0
}

# run NAME INJECT OPTS...: cat | [strace INJECT] zc-xfer -D OPTS.
run() {
	name=$1 inj=$2
	shift 2
	if [ -n "$inj" ]; then
		cat "$T/in" | timeout 60 strace -qq -o /dev/null \
		    -e trace="${inj%%:*}" -e inject="$inj" "$X" -D "$@" \
		    > "$T/out" 2> "$T/err"
	else
		cat "$T/in" | timeout 60 "$X" -D "$@" > "$T/out" 2> "$T/err"
	fi
	ok=1
	grep -q "^result $N bytes $N " "$T/err" ||
	    { echo "$name: $(cat "$T/err")"; ok=0; }
	[ "$(sha256sum < "$T/out")" = "$want" ] ||
	    { echo "$name: output differs"; ok=0; }
	grep '^result' "$T/err"
}

# expect NAME METHOD OP VALUE
expect() {
	v=$(count "$2")
	if [ $ok = 1 ] && [ "$v" "$3" "$4" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1: $2 is $v, wanted $3 $4"
		fails=$((fails + 1))
	fi
}

run "pipe, splice forced" "" -s
expect "pipe, splice forced" splice -eq $N
run "pipe, copy-out forced" "" -c
expect "pipe, copy-out forced (read/write)" read-write -eq $N
run "pipe, slow splice" splice:delay_exit=20000
expect "pipe, slow splice: mostly read/write" read-write -ge $((N / 2))
run "pipe, slow write" write:delay_exit=20000
expect "pipe, slow write: mostly spliced" splice -ge $((N / 2))
run "socket, copy-out forced" "" -S -c
expect "socket, copy-out forced" read-write -eq $N
run "socket, slow splice" splice:delay_exit=20000 -S
expect "socket, slow splice: mostly read/write" read-write -ge $((N / 2))
run "socket, slow write" write:delay_exit=20000 -S
expect "socket, slow write: mostly spliced" splice-pipe -ge $((N / 2))

# Splice out refused after the first splice in (bytes in the owned
# pipe), with a limit: read/write delivers those, then exactly the rest.
L=3000017
cat "$T/in" | timeout 60 strace -qq -o /dev/null -e trace=splice \
    -e inject=splice:error=EINVAL:when=2 "$X" -S -D -l $L \
    > "$T/out" 2> "$T/err"
if grep -q "^result $L bytes $L " "$T/err" &&
    head -c $L "$T/in" | cmp -s - "$T/out"; then
	echo "ok - refused splice out with a limit: exactly the limit"
else
	echo "not ok - refused splice out with a limit: $(cat "$T/err")," \
	    "$(wc -c < "$T/out") bytes out"
	fails=$((fails + 1))
fi

[ $fails -eq 0 ]
