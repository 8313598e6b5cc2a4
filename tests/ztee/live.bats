#!/usr/bin/env bats
# ztee -k: listen outputs serve a live stream to subscribers that join
# and leave (zc-pattern's offset pattern, so every subscriber's slice is
# checked wherever it starts), lossy subscribers cut off by --max-lag
# without slowing the stream or the lossless file, the -m cap, fds and
# pipe pages back to their baseline, unix-listen, the -v lines.

load helpers

PAT=${ZC_PATTERN:-$TESTS_BUILDDIR/live/zc-pattern}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	PIDS=()
	need_ztee
}

# Stopped processes (kill -STOP) are woken up before they are killed.
teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

# Starts "zc-pattern gen -r RATE SIZE | ztee -k ARGS" with ztee's
# standard output checked by zc-pattern check (into stdout.chk) and its
# standard error in err; sets ZPID (ztee), TPID (its timeout) and GPID
# (the generator's timeout: killing it ends the input). Each gets 60 s
# at most.
live() {
	local rate=$1 size=$2 i
	shift 2
	rm -f in zout
	mkfifo in zout
	timeout 60 "$PAT" check <zout >stdout.chk &
	CPID=$!
	PIDS+=($CPID)
	timeout 60 "$ZTEE" -k "$@" <in >zout 2>err &
	TPID=$!
	PIDS+=($TPID)
	timeout 60 "$PAT" gen -r "$rate" "$size" >in &
	GPID=$!
	PIDS+=($GPID)
	for i in $(seq 100); do
		ZPID=$(pgrep -P "$TPID" || :)
		[ -n "$ZPID" ] && return 0
		sleep 0.05
	done
	echo "ztee did not start"
	return 1
}

# The TCP port process $1 listens on (the first one), waiting up to 5 s.
lport() {
	local i p
	for i in $(seq 100); do
		p=$(ss -Hltnp 2>/dev/null | awk -v pid="pid=$1," \
		    'index($0, pid) { n = split($4, a, ":"); print a[n]; exit }')
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	echo "no listener for pid $1" >&2
	return 1
}

# Waits for line $2 (an extended regex) in file $1, up to $3 s (5).
wait_line() {
	local i n=$(( ${3:-5} * 20 ))
	for i in $(seq "$n"); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no line /$2/ in $1:"
	cat "$1"
	return 1
}

# Waits for ztee to exit, up to $1 s (then kills it: status 124); sets
# ZST to its status; its standard output must have been one slice.
wait_ztee() {
	local i
	for i in $(seq $(( $1 * 20 ))); do
		kill -0 "$ZPID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$TPID" 2>/dev/null || :
	ZST=0
	wait "$TPID" || ZST=$?
	wait "$CPID" || { echo "standard output: $?"; cat stdout.chk; return 1; }
}

# "OFFSET LENGTH" of a subscriber's slice, from its file.
slice() {
	[ -s "$1" ] || { echo "$1: no slice"; return 1; }
	cat "$1"
}

# Descriptors of process $1, and the pages of the pipes among them.
fds() {
	ls "/proc/$1/fd" | wc -l
}
pipe_pages() {
	python3 - "$1" <<'PY'
import fcntl, os, sys
pid, pages = sys.argv[1], 0
d = '/proc/%s/fd' % pid
for n in os.listdir(d):
    try:
        if not os.readlink(os.path.join(d, n)).startswith('pipe:'):
            continue
        fd = os.open(os.path.join(d, n), os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        continue
    pages += fcntl.fcntl(fd, 1032) // 4096	# F_GETPIPE_SZ
    os.close(fd)
print(pages)
PY
}

TOTAL=$((1536 << 20))

@test "-k: a paced 1.5 GiB stream, subscribers (nc among them) join and leave, each gets one slice, the file every byte" {
	# A lag bound that a reader on a busy machine keeps within.
	live 192M "$TOTAL" -v --max-lag 64M listen:127.0.0.1:0 file
	port=$(lport "$ZPID")
	mkfifo nc1 nc2
	sleep 0.5
	timeout 60 "$PAT" sub -b 100M 127.0.0.1 "$port" >s1 &
	PIDS+=($!)
	sleep 1
	timeout 60 "$PAT" check <nc1 >s2 &
	PIDS+=($!)
	timeout 60 nc -d 127.0.0.1 "$port" >nc1 &	# to the end
	PIDS+=($!)
	sleep 1
	timeout 60 "$PAT" sub -t 2 127.0.0.1 "$port" >s3 &
	PIDS+=($!)
	sleep 1
	timeout 60 "$PAT" check <nc2 >s4 &
	PIDS+=($!)
	timeout 1.5 nc -d 127.0.0.1 "$port" >nc2 &	# killed after 1.5 s
	PIDS+=($!)
	sleep 1
	timeout 60 "$PAT" sub 127.0.0.1 "$port" >s5 &	# to the end
	PIDS+=($!)
	wait_ztee 60
	for p in "${PIDS[@]}"; do wait "$p" || :; done
	PIDS=()
	cat err
	[ "$ZST" -eq 0 ]
	[ "$(cat stdout.chk)" = "0 $TOTAL" ]
	run "$PAT" check <file
	[ "$output" = "0 $TOTAL" ]
	prev=-1
	for s in s1 s2 s3 s4 s5; do
		read -r off len < <(slice "$s")
		echo "$s: $off $len"
		[ "$len" -gt 0 ]
		[ "$off" -gt "$prev" ]	# each joined later than the one before
		prev=$off
	done
	[ "$(cut -d' ' -f2 s1)" -eq $((100 << 20)) ]
	for s in s2 s5; do	# to the end: the slice ends with the stream
		read -r off len <"$s"
		[ $((off + len)) -eq "$TOTAL" ]
	done
	for s in s3 s4; do	# left in the middle
		read -r off len <"$s"
		[ $((off + len)) -lt "$TOTAL" ]
	done
	[ "$(grep -c 'joined from 127\.0\.0\.1:' err)" -eq 5 ]
	[ "$(grep -c ': subscriber [0-9] left after [0-9]* bytes$' err)" -eq 3 ]
	[ "$(grep -c ': subscriber [0-9] ended after [0-9]* bytes$' err)" -eq 2 ]
	! grep -q 'cut off' err
}

@test "-k: a subscriber that stops reading and a SIGSTOPped nc are cut off after --max-lag; the stream ends on time" {
	size=$((512 << 20))
	start=$(date +%s%N)
	# 16M: small beside the stream, large enough for a reader that is
	# descheduled for a moment on a busy machine.
	live 192M "$size" -v --max-lag 16M listen:127.0.0.1:0 file
	port=$(lport "$ZPID")
	timeout 60 "$PAT" stall -l stall.addr 127.0.0.1 "$port" &
	PIDS+=($!)
	wait_line err 'subscriber 1 joined'
	mkfifo ncout
	timeout 60 "$PAT" check <ncout >s.nc &
	ck=$!
	PIDS+=($ck)
	nc -d 127.0.0.1 "$port" >ncout &
	ncpid=$!
	PIDS+=($ncpid)
	wait_line err 'subscriber 2 joined'
	sleep 0.3
	kill -STOP "$ncpid"
	timeout 60 "$PAT" sub 127.0.0.1 "$port" >s.ok &
	okpid=$!
	PIDS+=($okpid)
	wait_ztee 30
	end=$(date +%s%N)
	kill -CONT "$ncpid"
	wait "$ck"
	wait "$okpid"
	cat err
	[ "$ZST" -eq 0 ]
	# 512 MiB at 192 MiB/s is 2.7 s: the stalled ones held nothing up.
	ms=$(( (end - start) / 1000000 ))
	echo "$ms ms"
	[ "$ms" -lt 9000 ]
	run "$PAT" check <file
	[ "$output" = "0 $size" ]
	[ "$(cat stdout.chk)" = "0 $size" ]
	read -r off len <s.ok
	[ $((off + len)) -eq "$size" ]
	grep -qE "^ztee: 'listen:127\.0\.0\.1:0': subscriber 1 cut off after [0-9]+ bytes: more than 16777216 bytes behind$" err
	grep -qE "^ztee: 'listen:127\.0\.0\.1:0': subscriber 2 cut off after [0-9]+ bytes: more than 16777216 bytes behind$" err
	# The nc woken up read a contiguous slice, exactly what ztee sent.
	read -r off len <s.nc
	sent=$(sed -n 's/.*subscriber 2 cut off after \([0-9]*\) bytes.*/\1/p' err)
	[ "$len" -eq "$sent" ]
	[ "$len" -lt "$size" ]
}

@test "-k: 100 subscribers join and leave at random times; fds and pipe pages back to their baseline" {
	live 10M 1G -v listen:127.0.0.1:0 file
	port=$(lport "$ZPID")
	sleep 0.5
	fd0=$(fds "$ZPID")
	pp0=$(pipe_pages "$ZPID")
	subs=()
	for i in $(seq 100); do
		(sleep "$((RANDOM % 3)).$((RANDOM % 10))"
		 exec timeout 30 "$PAT" sub -t "0.$((RANDOM % 9 + 1))" \
		    127.0.0.1 "$port" >"s.$i") &
		subs+=($!)
	done
	for p in "${subs[@]}"; do wait "$p"; done
	wait_line err "left after" 5
	# Every one has left; ztee notices at its next write to each.
	for i in $(seq 40); do
		[ "$(grep -c 'left after' err)" -eq 100 ] && break
		sleep 0.1
	done
	fd1=$(fds "$ZPID")
	pp1=$(pipe_pages "$ZPID")
	kill "$GPID"
	wait_ztee 10
	cat err | tail -n 5
	[ "$ZST" -eq 0 ]
	[ "$(grep -cE 'subscriber [0-9]+ joined' err)" -eq 100 ]
	[ "$(grep -c 'left after' err)" -eq 100 ]
	# Each one read one slice (zc-pattern sub checked it); nearly all
	# got bytes in their 0.1 to 0.9 s.
	some=0
	for i in $(seq 100); do
		read -r off len <"s.$i" || { echo "s.$i"; false; }
		[ "$len" -gt 0 ] && some=$((some + 1))
	done
	[ "$some" -ge 90 ] || { echo "$some of 100 got bytes"; false; }
	echo "fds $fd0 -> $fd1, pipe pages $pp0 -> $pp1"
	[ "$fd1" -eq "$fd0" ]
	[ "$pp1" -eq "$pp0" ]
	read -r off len <stdout.chk
	[ "$off" -eq 0 ]
	run "$PAT" check <file
	[ "$output" = "0 $len" ]
}

@test "-k -m 2: a third subscriber gets end of file at once and -v says so; a place freed is taken again" {
	live 4M 1G -v -m 2 listen:127.0.0.1:0
	port=$(lport "$ZPID")
	timeout 30 "$PAT" sub -t 20 -l a1 127.0.0.1 "$port" >s1 &
	p1=$!
	PIDS+=($p1)
	wait_line err 'subscriber 1 joined'
	timeout 30 "$PAT" sub -t 20 127.0.0.1 "$port" >s2 &
	PIDS+=($!)
	wait_line err 'subscriber 2 joined'
	start=$(date +%s%N)
	run timeout 10 "$PAT" sub -l a3 127.0.0.1 "$port"
	end=$(date +%s%N)
	[ "$status" -eq 0 ]
	[ "$output" = "0 0" ]
	[ $(( (end - start) / 1000000 )) -lt 2000 ]
	wait_line err 'refused'
	grep -qx "ztee: 'listen:127.0.0.1:0': connection from $(cat a3) refused: 2 subscribers already" err
	kill "$p1"
	wait_line err 'subscriber 1 left'
	timeout 30 "$PAT" sub -b 1M 127.0.0.1 "$port" >s4 &
	p4=$!
	PIDS+=($p4)
	wait "$p4"
	[ "$(cut -d' ' -f2 s4)" -eq $((1 << 20)) ]
	kill "$GPID"
	wait_ztee 10
	[ "$ZST" -eq 0 ]
	grep -q 'subscriber 3 joined' err
	[ "$(grep -c refused err)" -eq 1 ]
}

@test "-k unix-listen: subscribers on a unix socket (zc-pattern, nc -U); the socket file goes at the end" {
	# Slow enough for the sanitizer build on a busy machine.
	size=$((128 << 20))
	live 48M "$size" -v --max-lag 64M "unix-listen:$BATS_TEST_TMPDIR/s.sock" file
	for i in $(seq 100); do [ -S s.sock ] && break; sleep 0.05; done
	[ -S s.sock ]
	timeout 30 "$PAT" sub -U -b 10M "$BATS_TEST_TMPDIR/s.sock" >s1 &
	PIDS+=($!)
	sleep 0.3
	mkfifo nc1
	timeout 30 "$PAT" check <nc1 >s2 &
	PIDS+=($!)
	timeout 30 nc -d -U "$BATS_TEST_TMPDIR/s.sock" >nc1 &
	PIDS+=($!)
	sleep 0.3
	timeout 30 "$PAT" sub -U "$BATS_TEST_TMPDIR/s.sock" >s3 &
	PIDS+=($!)
	wait_ztee 30
	for p in "${PIDS[@]}"; do wait "$p" || :; done
	PIDS=()
	cat err
	[ "$ZST" -eq 0 ]
	[ ! -e s.sock ]
	run "$PAT" check <file
	[ "$output" = "0 $size" ]
	[ "$(cut -d' ' -f2 s1)" -eq $((10 << 20)) ]
	for s in s2 s3; do
		read -r off len <"$s"
		[ "$len" -gt 0 ]
		[ $((off + len)) -eq "$size" ]
	done
	q="'unix-listen:$BATS_TEST_TMPDIR/s.sock'"
	[ "$(grep -cxE "ztee: $q: subscriber [123] joined" err)" -eq 3 ]
}

@test "-k -v: the lines, exactly" {
	live 2M 1G -v --max-lag 64K -m 3 listen:127.0.0.1:0
	port=$(lport "$ZPID")
	q="ztee: 'listen:127.0.0.1:0'"
	timeout 30 "$PAT" sub -b 300000 -l a1 127.0.0.1 "$port" >s1 &
	p1=$!
	PIDS+=($p1)
	wait "$p1"
	wait_line err 'subscriber 1 left'
	timeout 30 "$PAT" stall -l a2 127.0.0.1 "$port" &
	PIDS+=($!)
	wait_line err 'subscriber 2 cut off' 10
	timeout 30 "$PAT" sub -l a3 127.0.0.1 "$port" >s3 &
	p3=$!
	PIDS+=($p3)
	wait_line err 'subscriber 3 joined'
	kill "$GPID"
	wait_ztee 10
	wait "$p3"
	cat err
	[ "$ZST" -eq 0 ]
	read -r _ len3 <s3
	# The stream's bytes and their methods close the list, as without -k.
	grep -v "^ztee: standard output: " err >lines
	n1=$(sed -n 's/.*subscriber 1 left after \([0-9]*\) bytes$/\1/p' err)
	n2=$(sed -n 's/.*subscriber 2 cut off after \([0-9]*\) bytes.*/\1/p' err)
	[ "$n1" -ge 300000 ]
	[ "$n2" -gt 65536 ]
	cat >want <<-EOF
	$q: subscriber 1 joined from $(cat a1)
	$q: subscriber 1 left after $n1 bytes
	$q: subscriber 2 joined from $(cat a2)
	$q: subscriber 2 cut off after $n2 bytes: more than 65536 bytes behind
	$q: subscriber 3 joined from $(cat a3)
	$q: subscriber 3 ended after $len3 bytes
	EOF
	diff want lines
	grep -qE '^ztee: standard output: [0-9]+ bytes in ' err
}

@test "-k over ::1; without -k a listen output still takes one connection" {
	grep -q . /proc/net/if_inet6 2>/dev/null || skip "no IPv6"
	size=$((64 << 20))
	live 64M "$size" -v 'listen:[::1]:0' file
	port=$(lport "$ZPID")
	timeout 30 "$PAT" sub -l a1 ::1 "$port" >s1 &
	PIDS+=($!)
	wait_ztee 30
	[ "$ZST" -eq 0 ]
	grep -Fqx "ztee: 'listen:[::1]:0': subscriber 1 joined from $(cat a1)" err
	[[ $(cat a1) == \[::1\]:* ]]
	read -r off len <s1
	[ $((off + len)) -eq "$size" ]
	# Without -k: the copy waits for one client, which gets every byte.
	"$PAT" gen 1000000 >data
	"$ZTEE" listen:127.0.0.1:0 <data >/dev/null 2>err &
	ZPID=$!
	PIDS+=($ZPID)
	port=$(lport "$ZPID")
	run timeout 20 "$PAT" sub 127.0.0.1 "$port"
	[ "$output" = "0 1000000" ]
	wait "$ZPID"
}

@test "-k options: -m and --max-lag need -k, bad values are refused" {
	run "$ZTEE" -m 2 </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "ztee: -m needs -k" ]
	run "$ZTEE" --max-lag 1M </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "ztee: --max-lag needs -k" ]
	run "$ZTEE" -k -m 0 </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "ztee: invalid number of subscribers: '0'" ]
	run "$ZTEE" -k --max-lag 1Q </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "ztee: invalid max lag: '1Q'" ]
	run "$ZTEE" -k --max-lag 0 </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "ztee: invalid max lag: '0'" ]
	# -k without a listen output changes nothing.
	"$PAT" gen 100000 >data
	run bash -c "'$ZTEE' -k -m 3 --max-lag 10MB copy <data | sha256sum"
	[ "$status" -eq 0 ]
	same data copy
}

@test "-k: standard output without a reader still ends it by SIGPIPE; with -p the stream goes on for subscribers" {
	"$PAT" gen 10000000 >data
	run bash -c "'$ZTEE' -k listen:127.0.0.1:0 <data | head -c 1000 >/dev/null; echo \${PIPESTATUS[0]}"
	[ "$output" = 141 ]
	mkfifo zin zo
	timeout 30 "$PAT" gen -r 10M 20M >zin &
	PIDS+=($!)
	timeout 30 head -c 1000 <zo >/dev/null &
	PIDS+=($!)
	"$ZTEE" -k -p listen:127.0.0.1:0 file <zin >zo 2>err &
	ZPID=$!
	PIDS+=($ZPID)
	port=$(lport "$ZPID")
	timeout 30 "$PAT" sub 127.0.0.1 "$port" >s1 &
	PIDS+=($!)
	st=0
	wait "$ZPID" || st=$?
	[ "$st" -eq 0 ]
	[ ! -s err ]
	run "$PAT" check <file
	[ "$output" = "0 20971520" ]
	wait "${PIDS[-1]}"
	read -r off len <s1
	[ "$len" -gt 0 ]
	[ $((off + len)) -eq 20971520 ]
}
