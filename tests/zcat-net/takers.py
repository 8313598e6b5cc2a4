#!/usr/bin/env python3
"""Clients that come one after another, take part of a stream and go.

  takers.py gen SIZE FILE
      FILE gets SIZE bytes in which every 8-byte word is its own offset
      (little-endian), so any slice tells where it came from.
  takers.py run ADDR OUT PLAN
      ADDR is HOST:PORT or a unix socket path. PLAN is a comma-separated
      list, one client each, in order:
        hN  read N bytes, stop reading a moment (the sender's buffers
            fill), half-close (shutdown SHUT_WR), then read to the end
        cN  read N bytes, stop a moment, close without reading the rest
        e   read to the end, then close
      OUT gets what all the clients received, one after another; a line
      per client on stdout: "INDEX KIND BYTES START" (START: where its
      bytes begin in the pattern, -1 when none came).
  takers.py check SIZE OUT LOG
      Checks OUT (and LOG from run) against the pattern of gen: every
      client got one contiguous slice, in order, none overlapping; after
      an h or e client the next one starts exactly where it stopped; the
      last one ends at SIZE.

Exit 0 pass, 1 fail.
"""
import socket
import struct
import sys
import time


def pattern(off, n):
    """n bytes of the pattern from offset off on."""
    first = off - off % 8
    words = (n + off % 8 + 7) // 8
    b = struct.pack('<%dQ' % words, *range(first, first + 8 * words, 8))
    return b[off % 8:off % 8 + n]


def gen(size, path):
    with open(path, 'wb') as f:
        step = 1 << 20
        for off in range(0, size, step):
            f.write(pattern(off, min(step, size - off)))


def dial(addr):
    if '/' in addr:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr)
        return s
    host, port = addr.rsplit(':', 1)
    return socket.create_connection((host, int(port)), timeout=30)


def read_n(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(min(65536, n - len(out)))
        if not b:
            break
        out += b
    return out


def read_all(s):
    out = bytearray()
    while True:
        b = s.recv(1 << 20)
        if not b:
            return out
        out += b


def where(data):
    """The offset of the pattern that data starts at, or -1."""
    for a in range(8):
        if len(data) < a + 8:
            break
        (w,) = struct.unpack_from('<Q', data, a)
        if w % 8 == 0 and w >= a and pattern(w - a, len(data)) == data:
            return w - a
    return -1


def run(addr, out, plan):
    got = []
    for i, item in enumerate(plan.split(',')):
        kind, n = item[0], int(item[1:] or 0)
        s = dial(addr)
        s.settimeout(30)
        if kind == 'e':
            data = read_all(s)
        else:
            data = read_n(s, n)
            time.sleep(0.05)
            if kind == 'h':
                s.shutdown(socket.SHUT_WR)
                data += read_all(s)
        s.close()
        got.append((kind, data))
        print(i, kind, len(data), where(bytes(data[:64])), flush=True)
    with open(out, 'wb') as f:
        for kind, data in got:
            f.write(data)


def check(size, out, log):
    with open(out, 'rb') as f:
        data = f.read()
    pos, off, want = 0, 0, 0
    ok = True
    for line in open(log):
        i, kind, n, _ = line.split()
        n = int(n)
        piece = data[pos:pos + n]
        pos += n
        if n == 0:
            if kind == 'c':
                want = None
            continue
        start = where(piece[:64])
        if start < 0 and want is not None and piece == pattern(want, n):
            start = want
        if start < 0:
            print('client %s: %d bytes from nowhere in the input' % (i, n))
            return False
        if piece != pattern(start, n):
            print('client %s: %d bytes from %d are not one slice' %
                  (i, n, start))
            return False
        if start < off:
            print('client %s: starts at %d, before %d: repeated bytes' %
                  (i, start, off))
            ok = False
        if want is not None and start != want:
            print('client %s: starts at %d, not %d: %d bytes lost' %
                  (i, start, want, start - want))
            ok = False
        off = start + n
        want = off if kind in 'he' else None
    if off != size:
        print('the last client ends at %d, not %d' % (off, size))
        ok = False
    return ok


def main(argv):
    if len(argv) == 4 and argv[1] == 'gen':
        gen(int(argv[2]), argv[3])
        return 0
    if len(argv) == 5 and argv[1] == 'run':
        run(argv[2], argv[3], argv[4])
        return 0
    if len(argv) == 5 and argv[1] == 'check':
        return 0 if check(int(argv[2]), argv[3], argv[4]) else 1
    print(__doc__, file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
