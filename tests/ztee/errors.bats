#!/usr/bin/env bats
# Output errors: the --output-error modes, SIGPIPE, the early exit, and
# the same scenarios through GNU tee and ztee side by side.

load helpers

pipe_status() {
	rm -f fifo
	mkfifo fifo
	read_one_block fifo
	st=0
	yes >fifo || st=$?
	echo $st
}

@test "no option: a reader going away kills by SIGPIPE, open errors still told" {
	want=$(pipe_status)
	yes_to_gone_reader "$ZTEE" ./e/noent
	[ "$ST" -eq "$want" ]
	[ "$ERRS" -eq 1 ]
}

@test "-p: EPIPE is silent, status 0" {
	yes_to_gone_reader "$ZTEE" -p
	[ "$ST" -eq 0 ]
	[ "$ERRS" -eq 0 ]
}

@test "--output-error=warn: EPIPE told, status 1" {
	yes_to_gone_reader "$ZTEE" --output-error=warn
	[ "$ST" -eq 1 ]
	[ "$ERRS" -eq 1 ]
}

@test "--output-error=exit: EPIPE told, exits at once (status 1)" {
	yes_to_gone_reader "$ZTEE" --output-error=exit /dev/null
	[ "$ST" -eq 1 ]
	[ "$ERRS" -eq 1 ]
}

@test "--output-error=exit: an open error exits at once" {
	yes_to_gone_reader "$ZTEE" --output-error=exit ./e/noent
	[ "$ST" -eq 1 ]
	[ "$ERRS" -eq 1 ]
}

@test "--output-error=exit-nopipe: EPIPE silent, status 0" {
	yes_to_gone_reader "$ZTEE" --output-error=exit-nopipe
	[ "$ST" -eq 0 ]
	[ "$ERRS" -eq 0 ]
}

@test "--output-error=warn-nopipe keeps writing the other outputs" {
	seq 200000 >in
	rm -f fifo
	mkfifo fifo
	read_one_block fifo
	timeout 10 "$ZTEE" --output-error=warn-nopipe o1 <in 2>err >fifo
	[ ! -s err ]
	same in o1
}

@test "-p with a file output and a lost reader: every byte to the file" {
	seq 200000 >in
	cat in | { timeout 10 "$ZTEE" -p o1 2>err; echo $? >st; } | head -c 10 >/dev/null
	[ "$(cat st)" = 0 ]
	[ ! -s err ]
	same in o1
}

@test "inherited SIGPIPE ignored, no option: EPIPE is silent like GNU" {
	seq 200000 >in
	(trap '' PIPE; cat in | { timeout 10 "$ZTEE" o1 2>err; echo $? >st; } |
	    head -c 10 >/dev/null)
	[ "$(cat st)" = 0 ]
	[ ! -s err ]
	same in o1
}

# The writer keeps standard input open (and idle) until ztee has gone.
@test "-p exits early once every output is a pipe without a reader" {
	SECONDS=0
	( for i in $(seq 60); do [ -f done ] && exit; sleep 0.1; done ) |
	    { timeout 10 "$ZTEE" -p 2>err; echo $? >st; touch done; } | :
	[ "$SECONDS" -lt 4 ]
	[ "$(cat st)" = 0 ]
	[ ! -s err ]
}

@test "-p exits early with two pipe outputs, and not while a file is one" {
	need_ztee
	mkfifo f2
	: >held
	( for i in $(seq 60); do [ -f done ] && exit; sleep 0.1; done ) |
	    { timeout 10 "$ZTEE" -p fd:5 5>f2 2>err; echo $? >st; touch done; } |
	    : &
	PIDS+=($!)
	exec 6<f2
	exec 6<&-
	for i in $(seq 50); do [ -f done ] && break; sleep 0.1; done
	[ -f done ]
	[ "$(cat st)" = 0 ]
	[ ! -s err ]

	SECONDS=0
	( sleep 1.5 ) | { timeout 10 "$ZTEE" -p o1 2>err; echo $? >st; } | :
	[ "$SECONDS" -ge 1 ]
	[ "$(cat st)" = 0 ]
}

# Differential: the same command through GNU tee and ztee.
# scenario NAME: runs "$T" in the current directory.
diff_run() {
	local name=$1 t
	for t in gnu z; do
		mkdir -p "$t"
		if [ $t = gnu ]; then T=$GNU_TEE; else T=$ZTEE; fi
		(cd "$t" || exit 1; st=0; "$name" >out 2>err || st=$?; echo $st >st)
	done
	[ "$(cat gnu/st)" = "$(cat z/st)" ] ||
		{ echo "status: gnu $(cat gnu/st) ztee $(cat z/st)"; return 1; }
	[ "$(lines gnu/err)" = "$(lines z/err)" ] ||
		{ echo "stderr:"; cat gnu/err z/err; return 1; }
	for f in gnu/*; do
		case $f in gnu/err) continue ;; esac
		cmp "$f" "z/${f#gnu/}" || return 1
	done
	ls gnu >gnu.ls
	ls z >z.ls
	cmp gnu.ls z.ls
}

normal() { seq 100000 | "$T" o1 o2 "o 3"; }
append() { echo a >o1; seq 1000 | "$T" -a o1 o2; seq 10 | "$T" --append o2; }
missing() { seq 100000 | "$T" o1 ./no/such o2; }
full() { seq 100000 | "$T" o1 /dev/full o2; }
fullout() { seq 100000 | "$T" o1 o2 >/dev/full; }
dash() { seq 100 | "$T" - o1; }
closed_reader() {
	seq 300000 | { "$T" -p o1; echo $? >st2; } | head -c 100 >/dev/null
}
mode_gone() {
	mkfifo fifo
	timeout 10 dd count=1 if=fifo of=/dev/null status=none &
	local st=0
	yes | head -c 5000000 | timeout 10 "$T" $MODE o1 ./no/such >fifo ||
	    st=$?
	wait
	rm fifo
	# Where tee stops early, o1 holds some prefix of the input.
	case $MODE in
	--output-error=exit|-a)
		yes | head -c "$(stat -c %s o1)" | cmp - o1 && rm o1 ;;
	esac
	return $st
}

@test "differential: normal" { diff_run normal; }
@test "differential: -a" { diff_run append; }
@test "differential: missing directory output" { diff_run missing; }
@test "differential: /dev/full output" { diff_run full; }
@test "differential: /dev/full standard output" { diff_run fullout; }
@test "differential: operand -" { diff_run dash; }
@test "differential: -p with a closed reader" { diff_run closed_reader; }

@test "differential: every --output-error mode with a reader gone" {
	for MODE in --output-error=warn --output-error=warn-nopipe \
	    --output-error=exit --output-error=exit-nopipe -p --output-error; do
		rm -rf gnu z
		diff_run mode_gone
	done
}

@test "differential: no option with a reader gone (SIGPIPE)" {
	MODE=-a
	diff_run mode_gone
	[ "$(cat z/st)" -gt 128 ]
}
