#!/usr/bin/env python3
"""Runs a command with its standard output or standard error on a
pseudo-terminal in raw mode, and saves what arrives there in a file.

    ptyrun.py (--stdout|--stderr) FILE -- COMMAND [ARG...]

Exits with the command's status (128+N for a signal)."""
import os
import select
import sys
import tty


def main():
    args = sys.argv[1:]
    if len(args) < 4 or args[0] not in ("--stdout", "--stderr") or args[2] != "--":
        sys.exit(__doc__)
    which, path, cmd = args[0], args[1], args[3:]
    master, slave = os.openpty()
    tty.setraw(slave)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.dup2(slave, 1 if which == "--stdout" else 2)
        os.close(master)
        os.close(slave)
        os.execvp(cmd[0], cmd)
    os.close(slave)
    status = None
    with open(path, "wb") as out:
        while True:
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if data:
                    out.write(data)
                    continue
                if status is not None:
                    break
            if status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
            elif not r:
                break
    if status is None:
        _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status)
             else 128 + os.WTERMSIG(status))


main()
