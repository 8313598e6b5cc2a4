# Helpers for the bats tests; other areas may `load ../zcopy/common`.

: "${ZCOPY:?ZCOPY must name the zcopy program}"
bats_require_minimum_version 1.5.0
HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Prints the sha256 of a file (or standard input with no argument).
sha() {
	local s
	s=$(sha256sum "${1:--}")
	echo "${s%% *}"
}

# A python3 that starts fast (pyenv shims take seconds).
if [[ -x /usr/bin/python3 ]]; then
	PYTHON=/usr/bin/python3
else
	PYTHON=python3
fi

# Prints a random high TCP port that no socket uses at the moment.
free_port() {
	local i port
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if [[ -z $(ss -Htan "( sport = :$port or dport = :$port )") ]]
		then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# Waits (at most ~10 s) until something listens on TCP PORT.
wait_tcp() {
	local i
	for ((i = 0; i < 500; i++)); do
		if [[ -n $(ss -Hltn "sport = :$1") ]]; then
			return 0
		fi
		sleep 0.02
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# Waits (at most ~10 s) until a unix stream socket listens at PATH.
wait_unix() {
	local i
	for ((i = 0; i < 500; i++)); do
		if [[ -S $1 && -n $(ss -Hlx src "$1") ]]; then
			return 0
		fi
		sleep 0.02
	done
	echo "nothing listens on $1" >&2
	return 1
}

# Starts a command in the background with a bound run time and records
# its pid for kill_peers.
peer() {
	timeout 60 "$@" &
	PEERS+=("$!")
}

# peer_to FILE COMMAND...: peer with standard output to FILE (opened in
# the background, so that FILE may be a FIFO).
peer_to() {
	(
		exec >"$1"
		shift
		exec timeout 60 "$@"
	) &
	PEERS+=("$!")
}

# Waits for the background peers (their exit statuses are checked).
wait_peers() {
	local p rc=0
	for p in "${PEERS[@]}"; do
		wait "$p" || rc=$?
	done
	PEERS=()
	return "$rc"
}

# Kills what peer started and is still running (for teardown).
kill_peers() {
	local p
	for p in "${PEERS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PEERS=()
}
PEERS=()

# Fails unless FILE holds exactly one line matching the ERE.
one_line() {
	local lines
	mapfile -t lines <"$1"
	if [[ ${#lines[@]} -ne 1 || ! ${lines[0]} =~ $2 ]]; then
		echo "expected one line matching /$2/ in $1, got:" >&2
		cat "$1" >&2
		return 1
	fi
}

# Fails unless two files have the same sha256. The second file's sum is
# remembered in FILE.sha256 when that is newer than FILE (test data).
same() {
	local a b
	if [[ -f $2.sha256 && $2.sha256 -nt $2 ]]; then
		b=$(<"$2.sha256")
	else
		b=$(sha "$2")
	fi
	a=$(sha256sum "$1")
	if [[ ${a%% *} != "$b" ]]; then
		echo "$1 ($(stat -c %s "$1") bytes) differs from $2" \
		    "($(stat -c %s "$2") bytes)" >&2
		return 1
	fi
}

# Writes SIZE random bytes to FILE and remembers its sha256 for same().
mkdata() {
	head -c "$2" /dev/urandom >"$1"
	sleep 0.01
	sha "$1" >"$1.sha256"
}

# Reads the last "zcopy -v" line of FILE into STATS_LINE, its byte count
# into STATS_BYTES and the per-method counts into STATS[method].
parse_stats() {
	local line re='^zcopy: ([0-9]+) bytes in [^:]*(: (.*))?$' m
	STATS_LINE= STATS_BYTES=
	declare -gA STATS=()
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			STATS_LINE=$line
			STATS_BYTES=${BASH_REMATCH[1]}
			m=${BASH_REMATCH[3]}
		fi
	done <"$1"
	[[ -n $STATS_LINE ]] || return 0
	STATS=()
	local IFS=,
	local part
	for part in $m; do
		part=${part# }
		STATS[${part% *}]=${part##* }
	done
}

# From a "zcopy -v" line in FILE, prints the bytes moved by METHOD (0).
stats_method() {
	parse_stats "$1"
	echo "${STATS[$2]:-0}"
}

# Fails unless the -v line in FILE says SIZE bytes and the per-method
# counts add up to it.
check_stats() {
	local k sum=0
	parse_stats "$1"
	if [[ -z $STATS_LINE ]]; then
		echo "no stats line in $1:" >&2
		cat "$1" >&2
		return 1
	fi
	for k in "${!STATS[@]}"; do
		sum=$((sum + STATS[$k]))
	done
	if [[ $STATS_BYTES != "$2" || $sum != "$2" ]]; then
		echo "expected $2 bytes, stats say: $STATS_LINE" >&2
		return 1
	fi
}
