#!/usr/bin/env bats
# ztee with many outputs and short of descriptors (ulimit -n), and with
# tee(2) refused (strace fault injection, as under a seccomp filter):
# every output gets every byte, like GNU tee.

load helpers

mkdata() {
	head -c "$2" /dev/urandom >"$1"
}

# Like same, with one sha256sum for all of them.
all_same() {
	local want n=$#
	want=$(sha "$1")
	shift
	sha256sum "$@" | awk -v want="$want" -v n="$((n - 1))" '
	    $1 != want { print "differs: " $2; bad = 1 }
	    END { if (NR != n) { print NR " of " n " files"; bad = 1 }
		exit bad }'
}

# Fails unless every line of FILE reads "PROG: NAME: Too many open files".
only_emfile() {
	local prog=$1 file=$2 line
	while IFS= read -r line; do
		[[ $line =~ ^$prog:\ o[0-9]+:\ Too\ many\ open\ files$ ]] ||
			{ echo "unexpected: $line"; return 1; }
	done <"$file"
}

@test "1,000 outputs under ulimit -n 1024: every output complete, status 0" {
	mkdata in 100001
	files=$(seq -f 'o%g' 1000)
	# shellcheck disable=SC2086
	(ulimit -n 1024; set -o pipefail
	    cat in | "$ZTEE" $files 2>err | cat >out) || { cat err; false; }
	[ ! -s err ] || { cat err; false; }
	# shellcheck disable=SC2086
	all_same in out $files
	# shellcheck disable=SC2086
	rm -f out $files
	# shellcheck disable=SC2086
	(ulimit -n 1024; "$ZTEE" $files <in 2>err >out) || { cat err; false; }
	[ ! -s err ] || { cat err; false; }
	# shellcheck disable=SC2086
	all_same in out $files
}

@test "1,100 outputs under ulimit -n 1024: open errors and status as GNU tee" {
	need_ztee
	mkdata in 70001
	files=$(seq -f 'o%g' 1100)
	gst=0
	# shellcheck disable=SC2086
	(ulimit -n 1024; set -o pipefail
	    cat in | "$GNU_TEE" $files 2>gerr | cat >/dev/null) || gst=$?
	# shellcheck disable=SC2086
	rm -f $files
	zst=0
	# shellcheck disable=SC2086
	(ulimit -n 1024; set -o pipefail
	    cat in | "$ZTEE" $files 2>err | cat >out) || zst=$?
	[ "$gst" = 1 ]
	[ "$zst" = "$gst" ]
	only_emfile "$GNU_TEE" gerr
	only_emfile ztee err
	# The same outputs fail, less the two descriptors of ztee's loop.
	[ "$(lines gerr)" -gt 0 ]
	[ "$(lines err)" -ge "$(lines gerr)" ]
	[ "$(lines err)" -le "$(( $(lines gerr) + 2 ))" ]
	[ "$(head -n1 err)" = "ztee: o$((1101 - $(lines err))): Too many open files" ]
	opened=$((1100 - $(lines err)))
	# shellcheck disable=SC2086
	all_same in out $(seq -f 'o%g' "$opened")
}

# tee_refused INJECTION ARGS...: runs "cat in | ztee ARGS | cat >out" with
# tee(2) failing as INJECTION says; fails unless it was injected, ztee
# said nothing and exited 0.
tee_refused() {
	local inj=$1 st=0
	shift
	(set -o pipefail
	cat in | ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    timeout 60 strace -f -qq -o trace -e trace=tee -e inject="$inj" \
	    "$ZTEE" "$@" 2>err | cat >out) || st=$?
	[ "$st" = 0 ] || { echo "status $st"; cat err; return 1; }
	[ ! -s err ] || { cat err; return 1; }
	grep -q INJECTED trace || { echo "nothing injected"; return 1; }
}

@test "tee(2) refused from the first call (ENOSYS): every output exact" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 1000001
	for n in 1 2 5; do
		files=$(seq -f "e$n-%g" "$n")
		# shellcheck disable=SC2086
		tee_refused tee:error=ENOSYS $files
		# shellcheck disable=SC2086
		same in out $files
	done
}

@test "tee(2) refused from the third call (EINVAL): every output exact" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 8000001
	for n in 1 2 5; do
		files=$(seq -f "i$n-%g" "$n")
		# shellcheck disable=SC2086
		tee_refused tee:error=EINVAL:when=3+ $files
		# shellcheck disable=SC2086
		same in out $files
	done
}

@test "tee(2) refused once in a round (EPERM, 2nd call): every output exact" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 8000001
	for n in 1 2 5; do
		files=$(seq -f "p$n-%g" "$n")
		# shellcheck disable=SC2086
		tee_refused tee:error=EPERM:when=2 $files
		# shellcheck disable=SC2086
		same in out $files
	done
}

@test "tee(2) refused with a file as input (hub pipe): every output exact" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 4000001
	for inj in tee:error=ENOSYS tee:error=EINVAL:when=3+ \
	    tee:error=EPERM:when=2; do
		(set -o pipefail
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		    timeout 60 strace -f -qq -o trace -e trace=tee \
		    -e inject="$inj" "$ZTEE" f1 f2 <in 2>err | cat >out) ||
		    { cat err; false; }
		[ ! -s err ] || { cat err; false; }
		grep -q INJECTED trace
		same in out f1 f2
	done
}

@test "tee(2) refused: files, a FIFO, a unix socket and a pipe, all exact" {
	command -v strace >/dev/null || skip "no strace"
	need_ztee
	mkdata in 8000001
	for inj in tee:error=ENOSYS tee:error=EINVAL:when=3+ \
	    tee:error=EPERM:when=2; do
		rm -f fifo fifo.out
		mkfifo fifo
		timeout 60 cat fifo >fifo.out &
		PIDS+=($!)
		listener unix "$PWD/u.sock" unix.out
		tee_refused "$inj" f1 fifo "unix:$PWD/u.sock" f2
		wait_listeners
		same in out f1 f2 fifo.out unix.out
		rm -f u.sock
	done
}

@test "many files and a few pipes: piped and buffered outputs all exact" {
	need_ztee
	mkdata in 2000001
	rm -f fifo1 fifo2
	mkfifo fifo1 fifo2
	timeout 60 cat fifo1 >fifo1.out &
	PIDS+=($!)
	timeout 60 cat fifo2 >fifo2.out &
	PIDS+=($!)
	files=$(seq -f 'o%g' 40)
	# shellcheck disable=SC2086
	(set -o pipefail
	cat in | "$ZTEE" fifo1 $files fifo2 2>err | cat >out) || { cat err; false; }
	[ ! -s err ] || { cat err; false; }
	wait_listeners
	# shellcheck disable=SC2086
	all_same in out fifo1.out fifo2.out $files
}
