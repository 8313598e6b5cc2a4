#!/usr/bin/env bats
# zcat-net against socat as a real peer, over 127.0.0.1, ::1 and unix
# sockets, both roles, both directions: 0 B, 1 B and 1 MiB+1, exact bytes;
# and 1 GiB once, streamed (never stored), summed as it is sent and as it
# arrives.

load helpers
load peers

@test "socat listener, tcp4: zcat-net sends" { matrix socat tcp4 client send; }
@test "socat listener, tcp4: zcat-net receives" { matrix socat tcp4 client recv; }
@test "socat listener, ::1: zcat-net sends" { matrix socat tcp6 client send; }
@test "socat listener, ::1: zcat-net receives" { matrix socat tcp6 client recv; }
@test "socat listener, unix: zcat-net sends" { matrix socat unix client send; }
@test "socat listener, unix: zcat-net receives" { matrix socat unix client recv; }
@test "socat client, tcp4: zcat-net -l sends" { matrix socat tcp4 server send; }
@test "socat client, tcp4: zcat-net -l receives" { matrix socat tcp4 server recv; }
@test "socat client, ::1: zcat-net -l sends" { matrix socat tcp6 server send; }
@test "socat client, ::1: zcat-net -l receives" { matrix socat tcp6 server recv; }
@test "socat client, unix: zcat-net -lU sends" { matrix socat unix server send; }
@test "socat client, unix: zcat-net -lU receives" { matrix socat unix server recv; }

@test "1 GiB: a socat unix client sends to zcat-net -lU, which writes a pipe" {
	OUT=$T/got.sum bg zcn 60 sh -c "'$ZCAT_NET' -v -lU '$T/s' | sha256sum"
	zlistening zcn
	run timeout 60 bash -c "openssl enc -aes-128-ctr -nosalt -pass pass:zerocopy -md sha256 -in /dev/zero 2>/dev/null | head -c 1G | tee >(sha256sum > '$T/want.sum') | socat -b 262144 -u STDIN 'UNIX-CONNECT:$T/s'"
	[ "$status" -eq 0 ]
	reap zcn
	[ "$(rc_of zcn)" -eq 0 ]
	wait_file "$T/want.sum"
	[ "$(cut -d' ' -f1 "$T/got.sum")" = "$(cut -d' ' -f1 "$T/want.sum")" ]
	grep -q "received 1073741824 bytes" "$T/zcn.err"
}
