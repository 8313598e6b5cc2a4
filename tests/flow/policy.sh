#!/bin/sh
# The measured method choice, through flow-relay (one TCP -> TCP flow):
# each method forced gives its method counts; the default moves away
# from splice when strace makes splice(2) slow and away from write(2)
# when that is made slow. Every case delivers the same bytes.
# Usage: policy.sh FLOW-RELAY ZCAT-NET. Exit 0 pass, 1 fail, 77 skip.

R=$1 Z=$2
fails=0
T=$(mktemp -d /tmp/zc-policy.XXXXXX) || exit 1
trap 'kill $rp $sp 2>/dev/null; rm -rf "$T"' EXIT

strace -qq -o /dev/null --seccomp-bpf -f -e trace=splice true \
    2>/dev/null || { echo "strace --seccomp-bpf does not work here"; exit 77; }

N=$((64 << 20))
head -c "$N" /dev/urandom > "$T/in"
head -c 1048576 /dev/urandom > "$T/in2"

# count SIDE METHOD: the count of METHOD on SIDE (src or sink) in line
# $LINE (default 1) of $T/stats.
count() {
	sed -n "${LINE:-1}p" "$T/stats" | tr ' ' '\n' |
	    awk -v side="$1" -v m="$2" '
	    $0 == "src" || $0 == "sink" { s = $0; next }
	    s == side { split($0, kv, "="); if (kv[1] == m) print kv[2] }'
}

# run NAME [STRACE-INJECT] [FLAGS]: the N bytes from a zcat-net sender
# through flow-relay (under strace with STRACE-INJECT unless empty) into
# a zcat-net receiver, and with SECOND=1 the 1 MiB of $T/in2 after them
# through a second connection (a second flow in the same loop); checks
# the bytes and that the counts add up.
run() {
	name=$1 inj=$2
	shift 2
	rm -f "$T/pf" "$T/out" "$T/rcv.err" "$T/want"
	if [ -n "$SECOND" ]; then
		set -- -k 2 "$@"
		cat "$T/in" "$T/in2" > "$T/want"
	else
		ln -sf in "$T/want"
	fi
	timeout 60 "$Z" -v ${SECOND:+-k} -l 127.0.0.1 0 > "$T/out" \
	    2> "$T/rcv.err" &
	sp=$!
	for i in $(seq 250); do
		port=$(sed -n 's/^Listening on .* \([0-9]*\)$/\1/p' \
		    "$T/rcv.err" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.02
	done
	if [ -n "$inj" ]; then
		timeout 60 strace -qq -o /dev/null --seccomp-bpf -f \
		    -e trace="${inj%%:*}" -e inject="$inj" \
		    "$R" "$@" "$T/pf" "$port" > "$T/stats" &
	else
		timeout 60 "$R" "$@" "$T/pf" "$port" > "$T/stats" &
	fi
	rp=$!
	for i in $(seq 250); do
		[ -s "$T/pf" ] && break
		sleep 0.02
	done
	timeout 60 "$Z" 127.0.0.1 "$(cat "$T/pf")" < "$T/in"
	[ -z "$SECOND" ] ||
	    timeout 60 "$Z" 127.0.0.1 "$(cat "$T/pf")" < "$T/in2"
	wait "$rp"
	rrc=$?
	if [ -n "$SECOND" ]; then
		# A -k listener goes on: stop it once it has every byte.
		for i in $(seq 250); do
			[ "$(wc -c < "$T/out")" -eq "$(wc -c < "$T/want")" ] &&
			    break
			sleep 0.02
		done
		kill "$sp"
	fi
	wait "$sp"
	ok=1
	[ $rrc -eq 0 ] || { echo "$name: flow-relay exit $rrc"; ok=0; }
	cmp -s "$T/out" "$T/want" || { echo "$name: output differs"; ok=0; }
	for side in src sink; do
		s=$(($(LINE=1 count $side splice-pipe) +
		    $(LINE=1 count $side read-write)))
		[ "$s" -eq "$N" ] || { echo "$name: $side counts $s"; ok=0; }
	done
	cat "$T/stats"
}

# expect NAME SIDE METHOD OP VALUE: e.g. expect x sink read-write -eq $N
expect() {
	v=$(count "$2" "$3")
	if [ $ok = 1 ] && [ "$v" "$4" "$5" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1: $2 $3 is $v, wanted $4 $5"
		fails=$((fails + 1))
	fi
}

run forced-splice "" -s
expect "forced splice: spliced in and out" sink splice-pipe -eq $N
expect "forced splice: spliced in" src splice-pipe -eq $N
run forced-copy "" -c
expect "forced copy-out: spliced in" src splice-pipe -eq $N
expect "forced copy-out: written out" sink read-write -eq $N
run forced-rw "" -n
expect "forced read/write: read in" src read-write -eq $N
expect "forced read/write: written out" sink read-write -eq $N
run default ""
expect "default: measured, every byte" sink copy_file_range -eq 0

# splice(2) made slow (20 ms each): splice out and copy out both splice
# in, so read/write wins and carries most of the bytes.
SECOND=1
run slow-splice splice:delay_exit=20000
SECOND=
expect "slow splice: most bytes read" src read-write -ge $((N / 2))
# The next flow of the loop on the same kind of path starts with what
# won: its 1 MiB is read and written, none spliced.
LINE=2
expect "slow splice: a new flow starts with read/write" \
    src read-write -eq 1048576
expect "slow splice: ... all of it" sink read-write -eq 1048576
LINE=
# write(2) made slow: copy out and read/write both write, so splicing
# wins and carries most of the bytes.
run slow-write write:delay_exit=20000
expect "slow write: most bytes spliced out" sink splice-pipe -ge $((N / 2))

[ $fails -eq 0 ]
