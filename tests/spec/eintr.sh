#!/bin/sh
# Runs test-endpoint with every other poll(2) and accept4(2) interrupted
# (EINTR): waits and accepts must restart within their bounds.
test="$1"
command -v strace >/dev/null 2>&1 || { echo "no strace"; exit 77; }
strace -o /dev/null true 2>/dev/null || { echo "strace cannot trace here"; exit 77; }
# LeakSanitizer cannot run under ptrace.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
exec strace -f -o /dev/null \
	-e inject=poll:error=EINTR:when=1+2 \
	-e inject=accept4:error=EINTR:when=1+2 "$test"
