# xfer SRC_KIND DST_KIND DATA [ZCOPY_OPTION...]: runs zcopy -v from an
# endpoint of the first kind holding DATA to one of the second kind, and
# leaves the received bytes in $T/out, stderr in $T/err and zcopy's exit
# status in $st. Kinds: file pipe fifo tcp unix (and null as a sink).
# TCP and unix sources and sinks alternate who listens: zcopy connects
# to a TCP source and to a unix sink, and listens for the other two.
xfer() {
	local sk=$1 dk=$2 data=$3 src dst port in=/dev/null
	shift 3
	rm -f "$T/out" "$T/err" "$T/fin" "$T/fout" "$T/sin" "$T/sout"
	case $sk in
	file)	src=$data ;;
	pipe)	src=- in=$data ;;
	fifo)	mkfifo "$T/fin"
		peer_to "$T/fin" cat "$data"
		src=$T/fin ;;
	tcp)	port=$(free_port)
		peer socat -u "OPEN:$data" \
		    "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr"
		wait_tcp "$port"
		src=127.0.0.1:$port ;;
	unix)	peer socat -u "OPEN:$data" \
		    "UNIX-CONNECT:$T/sin,retry=500,interval=0.02"
		src=unix-listen:$T/sin ;;
	esac
	case $dk in
	file)	dst=$T/out ;;
	pipe)	dst=- ;;
	null)	dst=/dev/null ;;
	fifo)	mkfifo "$T/fout"
		peer_to "$T/out" cat "$T/fout"
		dst=$T/fout ;;
	tcp)	port=$(free_port)
		peer_to "$T/out" socat -u \
		    "TCP:127.0.0.1:$port,retry=500,interval=0.02" STDOUT
		dst=listen:127.0.0.1:$port ;;
	unix)	peer_to "$T/out" socat -u "UNIX-LISTEN:$T/sout" STDOUT
		wait_unix "$T/sout"
		dst=unix:$T/sout ;;
	esac
	# a pipe source is cat's output, a pipe sink is cat's input
	set +e
	if [[ $sk == pipe && $dk == pipe ]]; then
		cat "$in" | timeout 60 "$ZCOPY" -v "$@" "$src" "$dst" \
		    2>"$T/err" | cat >"$T/out"
		st=${PIPESTATUS[1]}
	elif [[ $sk == pipe ]]; then
		cat "$in" | timeout 60 "$ZCOPY" -v "$@" "$src" "$dst" \
		    2>"$T/err"
		st=${PIPESTATUS[1]}
	elif [[ $dk == pipe ]]; then
		timeout 60 "$ZCOPY" -v "$@" "$src" "$dst" <"$in" \
		    2>"$T/err" | cat >"$T/out"
		st=${PIPESTATUS[0]}
	else
		timeout 60 "$ZCOPY" -v "$@" "$src" "$dst" <"$in" 2>"$T/err"
		st=$?
	fi
	set -e
	wait_peers
}

# check_xfer SRC_KIND DST_KIND DATA [ZCOPY_OPTION...]: xfer, then
# asserts exit 0, exact bytes (or the count for /dev/null), a stats line
# that adds up, and read-write only with --no-splice.
check_xfer() {
	local size
	xfer "$@"
	size=$(stat -c %s "$3")
	if [[ $st -ne 0 ]]; then
		echo "zcopy $1 -> $2 ($size bytes, ${*:4}) exited $st:" >&2
		cat "$T/err" >&2
		return 1
	fi
	if [[ $2 != null ]]; then
		same "$T/out" "$3"
	fi
	check_stats "$T/err" "$size"
	one_line "$T/err" '^zcopy: [0-9]+ bytes in '
	if [[ " ${*:4} " == *" --no-splice "* &&
	    ${STATS[read-write]:-0} != "$size" ]]; then
		echo "--no-splice but not all read-write:" >&2
		cat "$T/err" >&2
		return 1
	fi
}
