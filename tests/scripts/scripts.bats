#!/usr/bin/env bats
# The README's Quick start as .ci/run finds and runs it, and the demo it
# ends with: status 0 and no temporary directory left, however it ends.

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR
	TOP=$TESTS_SRCDIR/..
	BUILD=$TESTS_BUILDDIR/..
}

@test ".ci/run finds the README's two Quick start commands, verbatim" {
	run --separate-stderr "$TOP/.ci/run" --print-quick-start
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "scripts/deps.sh && meson setup build && ninja -C build && scripts/demo.sh" ]
	[ "${lines[1]}" = "meson test -C build --print-errorlogs" ]
	grep -Fqx "${lines[0]}" "$TOP/README.md"
	grep -Fqx "${lines[1]}" "$TOP/README.md"
}

@test ".ci/run takes only the Quick start's first code block" {
	printf '%s\n' '# x' '```' 'no' '```' '## Quick start' 'Text.' '' \
	    '```' 'a && b' '' 'c | d' '```' '```' 'not this' '```' \
	    '## Other' '```' 'nor this' '```' >"$T/r.md"
	run --separate-stderr "$TOP/.ci/run" --print-quick-start "$T/r.md"
	[ "$status" -eq 0 ]
	[ "$output" = "a && b
c | d" ]
	printf '%s\n' '## Quick start' 'No block.' '## Other' '```' 'x' \
	    '```' >"$T/none.md"
	run --separate-stderr "$TOP/.ci/run" --print-quick-start "$T/none.md"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ci: no Quick start commands in $T/none.md" ]
}

@test ".ci/run runs each command as written and stops at a failure" {
	printf '%s\n' '## Quick start' '```' \
	    "echo one >'$T/log' && echo two >>'$T/log'" \
	    "(exit 3)" "echo never >>'$T/log'" '```' >"$T/r.md"
	run --separate-stderr "$TOP/.ci/run" --run-quick-start "$T/r.md"
	[ "$status" -eq 1 ]
	[ "$(cat "$T/log")" = "one
two" ]
	[ "${stderr_lines[-1]}" = "ci: $T/r.md's Quick start failed (status 3): (exit 3)" ]
	printf '%s\n' '## Quick start' '```' "true" "true && true" '```' \
	    >"$T/ok.md"
	run "$TOP/.ci/run" --run-quick-start "$T/ok.md"
	[ "$status" -eq 0 ]
}

@test "scripts/demo.sh: three checks, status 0, no temporary directory left" {
	mkdir "$T/tmp"
	run --separate-stderr env TMPDIR="$T/tmp" timeout 120 \
	    "$TOP/scripts/demo.sh" "$BUILD"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "demo: file to file: 64 MiB, sha256 ok" ]
	[ "${lines[1]}" = "demo: file to pipe to pipe to file: 64 MiB, sha256 ok" ]
	[ "${lines[2]}" = "demo: file over TCP to file: 64 MiB, sha256 ok" ]
	[ -z "$(ls -A "$T/tmp")" ]
}

@test "scripts/demo.sh that fails removes its temporary directory too" {
	mkdir -p "$T/tmp" "$T/fake/cmd"
	printf '#!/bin/sh\nexit 7\n' >"$T/fake/cmd/zcopy"
	chmod +x "$T/fake/cmd/zcopy"
	run env TMPDIR="$T/tmp" timeout 60 "$TOP/scripts/demo.sh" "$T/fake"
	[ "$status" -eq 7 ]
	[ -z "$(ls -A "$T/tmp")" ]
}
