#!/usr/bin/env bats
# zcat-net against OpenBSD nc as a real peer, over 127.0.0.1, ::1 and unix
# sockets, both roles, both directions: 0 B, 1 B and 1 MiB+1, exact bytes;
# and 1 GiB once, streamed (never stored), summed as it is sent and as it
# arrives.

load helpers
load peers

@test "nc listener, tcp4: zcat-net sends" { matrix nc tcp4 client send; }
@test "nc listener, tcp4: zcat-net receives" { matrix nc tcp4 client recv; }
@test "nc listener, ::1: zcat-net sends" { matrix nc tcp6 client send; }
@test "nc listener, ::1: zcat-net receives" { matrix nc tcp6 client recv; }
@test "nc listener, unix: zcat-net sends" { matrix nc unix client send; }
@test "nc listener, unix: zcat-net receives" { matrix nc unix client recv; }
@test "nc client, tcp4: zcat-net -l sends" { matrix nc tcp4 server send; }
@test "nc client, tcp4: zcat-net -l receives" { matrix nc tcp4 server recv; }
@test "nc client, ::1: zcat-net -l sends" { matrix nc tcp6 server send; }
@test "nc client, ::1: zcat-net -l receives" { matrix nc tcp6 server recv; }
@test "nc client, unix: zcat-net -lU sends" { matrix nc unix server send; }
@test "nc client, unix: zcat-net -lU receives" { matrix nc unix server recv; }

@test "1 GiB: zcat-net client sends to an nc listener over 127.0.0.1" {
	local port
	port=$(random_port)
	OUT=$T/got.sum bg peer 60 sh -c "nc -l 127.0.0.1 $port | sha256sum"
	wait_tcp "$port" peer
	run timeout 60 bash -c "openssl enc -aes-128-ctr -nosalt -pass pass:zerocopy -md sha256 -in /dev/zero 2>/dev/null | head -c 1G | tee >(sha256sum > '$T/want.sum') | '$ZCAT_NET' 127.0.0.1 $port"
	[ "$status" -eq 0 ]
	reap peer
	wait_file "$T/want.sum"
	[ "$(cut -d' ' -f1 "$T/got.sum")" = "$(cut -d' ' -f1 "$T/want.sum")" ]
}
