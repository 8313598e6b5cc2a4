#!/usr/bin/env bats
# Every source kind to every sink kind at sizes 0, 1, 65535, 65537 and
# 1 MiB + 1, with --no-splice (read/write only): byte-exact, exit 0,
# and a -v line whose per-method counts add up.

load common
load xfer
load matrix

MODE=--no-splice

@test "file to file" { pair file file; }
@test "file to pipe" { pair file pipe; }
@test "file to fifo" { pair file fifo; }
@test "file to tcp" { pair file tcp; }
@test "file to unix" { pair file unix; }
@test "file to /dev/null" { pair file null; }
@test "pipe to file" { pair pipe file; }
@test "pipe to pipe" { pair pipe pipe; }
@test "pipe to fifo" { pair pipe fifo; }
@test "pipe to tcp" { pair pipe tcp; }
@test "pipe to unix" { pair pipe unix; }
@test "pipe to /dev/null" { pair pipe null; }
@test "fifo to file" { pair fifo file; }
@test "fifo to pipe" { pair fifo pipe; }
@test "fifo to fifo" { pair fifo fifo; }
@test "fifo to tcp" { pair fifo tcp; }
@test "fifo to unix" { pair fifo unix; }
@test "fifo to /dev/null" { pair fifo null; }
@test "tcp to file" { pair tcp file; }
@test "tcp to pipe" { pair tcp pipe; }
@test "tcp to fifo" { pair tcp fifo; }
@test "tcp to tcp" { pair tcp tcp; }
@test "tcp to unix" { pair tcp unix; }
@test "tcp to /dev/null" { pair tcp null; }
@test "unix to file" { pair unix file; }
@test "unix to pipe" { pair unix pipe; }
@test "unix to fifo" { pair unix fifo; }
@test "unix to tcp" { pair unix tcp; }
@test "unix to unix" { pair unix unix; }
@test "unix to /dev/null" { pair unix null; }

