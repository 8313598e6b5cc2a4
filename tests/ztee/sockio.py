#!/usr/bin/env python3
"""Socket peers for the ztee tests.

sockio.py listen tcp|tcp6|unix ADDR OUT READY [CHUNK DELAY_MS]
    Listen on ADDR (tcp: 127.0.0.1 port 0; tcp6: ::1 port 0; unix: a
    path), write the port
    (or "ok") to READY, accept one connection and copy it into OUT,
    CHUNK bytes at a time with DELAY_MS between reads (default: fast).
sockio.py stdin tcp|unix FILE CMD...
    Run CMD with its standard input a connected socket fed with FILE.
sockio.py slowout OUT CHUNK DELAY_MS CMD...
    Run CMD with its standard output a unix socket with small buffers,
    read CHUNK bytes every DELAY_MS into OUT; exit with CMD's status
    (128+N when a signal killed it).
sockio.py slowcat CHUNK DELAY_MS
    Copy standard input to standard output CHUNK bytes at a time with
    DELAY_MS between reads.
sockio.py nonblock CMD...
    Run CMD with O_NONBLOCK set on its standard output.
"""
import fcntl
import os
import socket
import sys
import time


def copy_out(conn, out, chunk, delay):
    with open(out, "wb") as f:
        while True:
            b = conn.recv(chunk)
            if not b:
                break
            f.write(b)
            if delay:
                time.sleep(delay / 1000.0)


def listen(argv):
    kind, addr, out, ready = argv[:4]
    chunk = int(argv[4]) if len(argv) > 4 else 1 << 16
    delay = float(argv[5]) if len(argv) > 5 else 0
    if kind == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        note = str(s.getsockname()[1])
    elif kind == "tcp6":
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        note = str(s.getsockname()[1])
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(addr)
        note = "ok"
    s.listen(1)
    with open(ready + ".tmp", "w") as f:
        f.write(note + "\n")
    os.rename(ready + ".tmp", ready)
    s.settimeout(30)
    conn, _ = s.accept()
    conn.settimeout(60)
    copy_out(conn, out, chunk, delay)


def pair(kind):
    if kind == "unix":
        return socket.socketpair()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    a = socket.create_connection(ls.getsockname())
    b, _ = ls.accept()
    ls.close()
    return a, b


def status(st):
    if os.WIFSIGNALED(st):
        return 128 + os.WTERMSIG(st)
    return os.WEXITSTATUS(st)


def stdin(argv):
    kind, path, cmd = argv[0], argv[1], argv[2:]
    a, b = pair(kind)
    if os.fork() == 0:
        b.close()
        with open(path, "rb") as f:
            while True:
                d = f.read(1 << 16)
                if not d:
                    break
                a.sendall(d)
        a.shutdown(socket.SHUT_WR)
        os._exit(0)
    a.close()
    os.dup2(b.fileno(), 0)
    b.close()
    os.execvp(cmd[0], cmd)


def slowout(argv):
    out, chunk, delay, cmd = argv[0], int(argv[1]), float(argv[2]), argv[3:]
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    pid = os.fork()
    if pid == 0:
        b.close()
        os.dup2(a.fileno(), 1)
        a.close()
        os.execvp(cmd[0], cmd)
    a.close()
    copy_out(b, out, chunk, delay)
    _, st = os.waitpid(pid, 0)
    sys.exit(status(st))


def slowcat(argv):
    chunk, delay = int(argv[0]), float(argv[1]) / 1000.0
    while True:
        b = os.read(0, chunk)
        if not b:
            break
        while b:
            b = b[os.write(1, b):]
        time.sleep(delay)


def nonblock(argv):
    fl = fcntl.fcntl(1, fcntl.F_GETFL)
    fcntl.fcntl(1, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    os.execvp(argv[0], argv)


{"listen": listen, "stdin": stdin, "slowout": slowout, "slowcat": slowcat,
 "nonblock": nonblock}[sys.argv[1]](sys.argv[2:])
