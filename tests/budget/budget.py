#!/usr/bin/env python3
"""Peers and probes for the pipe-budget tests (run as an ordinary user).

  budget.py pipes PID
      the pipes PID owns (not its fds 0-2): "pipes=N bytes=B min=S max=S"
  budget.py watch PID
      samples "pipes" until PID exits; prints the largest count and sum
      and the smallest and largest pipe seen
  budget.py slowcat FILE CHUNK DELAY_MS
      copies FILE to stdout in CHUNK-byte writes, DELAY_MS apart
  budget.py sockfeed FILE PROG ARGS...
      runs PROG ARGS with fd 3 a socket that FILE is written into
  budget.py relay PID PORT N BIG
      N connections through the relay PID listening on PORT (an echo
      server behind it): each exchanges 1000 bytes, then sits idle;
      prints what the relay holds then ("idle ..."), sends BIG bytes
      through a fresh connection while the N are idle ("big ...", with
      the pipes sampled meanwhile), exchanges again on every idle one
      and prints "exact=1" when every byte came back right.
"""
import fcntl
import hashlib
import os
import socket
import sys
import threading
import time

F_GETPIPE_SZ = 1032


def pipes(pid):
    """(count, bytes, smallest, largest) of the pipes pid holds, fds 0-2
    (pipes it was handed) left out."""
    base = "/proc/%d/fd" % pid
    handed = set()
    seen = {}
    try:
        names = os.listdir(base)
    except OSError:
        return None
    for name in names:
        try:
            link = os.readlink(base + "/" + name)
        except OSError:
            continue
        if not link.startswith("pipe:"):
            continue
        if int(name) <= 2:
            handed.add(link)
            continue
        if link in seen:
            continue
        try:
            fd = os.open(base + "/" + name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            seen[link] = fcntl.fcntl(fd, F_GETPIPE_SZ)
        except OSError:
            pass
        finally:
            os.close(fd)
    sizes = [s for l, s in seen.items() if l not in handed]
    if not sizes:
        return (0, 0, 0, 0)
    return (len(sizes), sum(sizes), min(sizes), max(sizes))


class Sampler(threading.Thread):
    """Samples pipes(pid) until stopped or pid is gone."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = False
        self.n = self.bytes = self.max = 0
        self.min = None
        self.samples = 0

    def run(self):
        while not self.stop:
            p = pipes(self.pid)
            if p is None:
                break
            self.samples += 1
            self.n = max(self.n, p[0])
            self.bytes = max(self.bytes, p[1])
            self.max = max(self.max, p[3])
            if p[0] and (self.min is None or p[2] < self.min):
                self.min = p[2]
            time.sleep(0.005)

    def line(self):
        return "pipes=%d bytes=%d min=%d max=%d samples=%d" % (
            self.n, self.bytes, self.min or 0, self.max, self.samples)


def pattern(seed, n):
    """n bytes that depend on seed."""
    block = hashlib.sha256(b"%d" % seed).digest() * 2048  # 64 KiB
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(min(1 << 20, n - len(buf)))
        if not b:
            break
        buf += b
    return bytes(buf)


def exchange(s, seed):
    msg = pattern(seed, 1000)
    s.sendall(msg)
    return recv_exact(s, len(msg)) == msg


def relay(pid, port, n, big):
    ok = True
    conns = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        conns.append(s)
        ok = exchange(s, i) and ok
    time.sleep(0.3)
    p = pipes(pid)
    print("idle pipes=%d bytes=%d min=%d max=%d" % p)

    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    sam = Sampler(pid)
    sam.start()
    block = pattern(n + 1, 1 << 20)
    want = hashlib.sha256()
    got = hashlib.sha256()
    left = big

    def send():
        sent = 0
        while sent < big:
            k = min(len(block), big - sent)
            s.sendall(block[:k])
            sent += k
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send, daemon=True)
    t0 = time.monotonic()
    t.start()
    while left > 0:
        b = s.recv(1 << 20)
        if not b:
            break
        got.update(b)
        left -= len(b)
    t.join()
    dt = time.monotonic() - t0
    sent = 0
    while sent < big:
        k = min(len(block), big - sent)
        want.update(block[:k])
        sent += k
    sam.stop = True
    sam.join()
    s.close()
    big_ok = left == 0 and got.digest() == want.digest()
    print("big ok=%d %s MiB/s=%.0f" % (big_ok, sam.line(),
                                      big / dt / 1048576))
    ok = ok and big_ok
    for i, c in enumerate(conns):
        ok = exchange(c, 1000 + i) and ok
        c.close()
    print("exact=%d" % ok)


def main():
    cmd = sys.argv[1]
    if cmd == "pipes":
        print("pipes=%d bytes=%d min=%d max=%d" % pipes(int(sys.argv[2])))
    elif cmd == "watch":
        sam = Sampler(int(sys.argv[2]))
        sam.run()
        print(sam.line())
    elif cmd == "slowcat":
        chunk = int(sys.argv[3])
        delay = int(sys.argv[4]) / 1000
        with open(sys.argv[2], "rb") as f:
            while True:
                b = f.read(chunk)
                if not b:
                    break
                sys.stdout.buffer.write(b)
                sys.stdout.buffer.flush()
                time.sleep(delay)
    elif cmd == "sockfeed":
        a, b = socket.socketpair()
        if os.fork() == 0:
            a.close()
            with open(sys.argv[2], "rb") as f:
                b.sendall(f.read())
            os._exit(0)
        b.close()
        os.dup2(a.fileno(), 3)
        os.execv(sys.argv[3], sys.argv[3:])
    elif cmd == "relay":
        relay(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
              int(sys.argv[5]))
    else:
        sys.exit("budget.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
