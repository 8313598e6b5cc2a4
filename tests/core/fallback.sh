#!/bin/sh
# Faults injected with strace into zc_transfer (through zc-xfer): every
# fallback, mid-stream too, delivers the same bytes, and the stats add
# up. Usage: fallback.sh ZC-XFER. Exit 0 pass, 1 fail, 77 skip.

X=$1
fails=0
T=$(mktemp -d /tmp/zc-fallback.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT

strace -o /dev/null true 2>/dev/null || { echo "strace does not work here"; exit 77; }

head -c 3000017 /dev/urandom > "$T/in"
# A file longer than one copy_file_range chunk (64 MiB), mostly a hole.
cp "$T/in" "$T/big"
truncate -s 70M "$T/big"
printf tail >> "$T/big"

# check NAME WANT-RESULT PATTERN...: the last stats line says WANT-RESULT
# and matches each grep pattern; "$T/out" equals "$T/want".
check() {
	name=$1 want=$2
	shift 2
	line=$(grep '^result' "$T/err" | tail -n 1)
	ok=1
	case $line in
	"result $want "*) ;;
	*) ok=0 ;;
	esac
	for p in "$@"; do
		printf '%s\n' "$line" | grep -Eq -- "$p" || ok=0
	done
	# The per-method counts add up to bytes.
	sum=$(printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^[a-z_-]*=//p' |
	    awk '{ s += $1 } END { print s + 0 }')
	bytes=$(printf '%s\n' "$line" | awk '{ print $4 }')
	[ "$sum" = "$bytes" ] || ok=0
	if [ "$want" -ge 0 ] &&
	    [ "$(sha256sum < "$T/out")" != "$(sha256sum < "$T/want")" ]; then
		ok=0
		echo "$name: output differs"
	fi
	if [ $ok = 1 ]; then
		echo "ok - $name"
	else
		echo "not ok - $name: $line"
		fails=$((fails + 1))
	fi
}

ln -sf in "$T/want"
n=$(wc -c < "$T/in")

strace -o /dev/null -e inject=copy_file_range:error=EXDEV:when=2 \
    "$X" < "$T/big" > "$T/out" 2> "$T/err"
ln -sf big "$T/want"
check "copy_file_range EXDEV mid-stream, then sendfile" \
    "$(wc -c < "$T/big")" 'copy_file_range=67108864 ' 'sendfile='
ln -sf in "$T/want"

strace -o /dev/null -e inject=copy_file_range:error=EXDEV \
    -e inject=sendfile:error=EINVAL:when=2 \
    "$X" < "$T/big" > "$T/out" 2> "$T/err"
ln -sf big "$T/want"
check "copy_file_range refused, sendfile EINVAL mid-stream" \
    "$(wc -c < "$T/big")" 'sendfile=16777216 ' 'splice-pipe='
ln -sf in "$T/want"

strace -o /dev/null -e inject=copy_file_range:error=ENOSYS \
    -e inject=sendfile:error=ENOSYS -e inject=splice:error=EINVAL:when=4 \
    "$X" -p 65536 < "$T/in" > "$T/out" 2> "$T/err"
check "owned pipe refused while draining: its bytes go first" "$n" \
    'splice-pipe=65536 ' 'read-write='

strace -o /dev/null -e inject=sendfile:error=EINVAL:when=2 \
    "$X" < "$T/in" 2> "$T/err" | cat > "$T/out"
check "file to pipe: sendfile EINVAL mid-stream, then splice" "$n" \
    'sendfile=' ' splice='

cat "$T/in" | strace -o /dev/null -e inject=splice:error=EINVAL:when=3 \
    "$X" 2> "$T/err" | cat > "$T/out"
check "pipe to pipe: splice EINVAL on the 3rd call" "$n" \
    ' splice=' 'read-write='

cat "$T/in" | strace -o /dev/null -e inject=splice:error=EOPNOTSUPP \
    "$X" 2> "$T/err" | cat > "$T/out"
check "pipe to pipe: splice EOPNOTSUPP at once" "$n" '^result [0-9]+ bytes [0-9]+ read-write=[0-9]+ side 0$'

strace -o /dev/null -e inject=splice:error=EINVAL:when=4 \
    "$X" -S -D -p 65536 < "$T/in" > "$T/out" 2> "$T/err"
check "socket to socket: EINVAL draining the owned pipe" "$n" \
    'splice-pipe=[0-9]+ ' 'read-write='

strace -o /dev/null -e inject=splice:error=EXDEV:when=5 \
    "$X" -S -D -N -p 65536 < "$T/in" > "$T/out" 2> "$T/err"
check "non-blocking sockets: EXDEV filling the owned pipe" "$n" \
    'splice-pipe=' 'read-write='

strace -o /dev/null -e inject=pipe2:error=EMFILE \
    "$X" -S -D < "$T/in" > "$T/out" 2> "$T/err"
check "no owned pipe (EMFILE): read/write" "$n" \
    '^result [0-9]+ bytes [0-9]+ read-write=[0-9]+ side 0$'

cat "$T/in" | strace -o /dev/null -e inject=splice:error=EINTR:when=2+2 \
    "$X" 2> "$T/err" | cat > "$T/out"
check "EINTR restarts" "$n" '^result [0-9]+ bytes [0-9]+ splice=[0-9]+ side 0$'

cat "$T/in" | strace -o /dev/null -e inject=splice:error=EAGAIN:when=2+3 \
    "$X" 2> "$T/err" | cat > "$T/out"
check "EAGAIN on blocking pipes waits and goes on" "$n" ' splice='

strace -o /dev/null -e inject=write:error=ENOSPC:when=3 \
    "$X" -n < "$T/in" > "$T/out" 2> "$T/err"
check "write error" -28 'side 2$'

strace -o /dev/null -e inject=splice:error=EIO:when=3 \
    "$X" -S -D < "$T/in" > "$T/out" 2> "$T/err"
check "read error through the owned pipe" -5 'side 1$'

strace -o /dev/null -e inject=splice:error=ENOSPC:when=2 \
    "$X" -S -D < "$T/in" > "$T/out" 2> "$T/err"
check "write error through the owned pipe" -28 'side 2$'

[ $fails = 0 ] || { echo "$fails failed"; exit 1; }
exit 0
