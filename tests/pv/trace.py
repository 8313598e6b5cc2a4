#!/usr/bin/env python3
"""Sums what the data system calls in an strace log moved.

    trace.py LOG RATE

LOG comes from strace -f --seccomp-bpf -ttt -e trace=splice,tee,read,write,... -o LOG.
Prints one line per call name, "NAME BYTES" (successful calls only, and
for read and write only those on descriptors 0 and 1 and from 3 up: the
data, not the loader's or the sanitizer's reads of their own files,
which come first, nor messages on 2), and "window BYTES": the most bytes
that splice(2) took from descriptor 0 in any one second (a call counts
at its start), to hold against RATE."""
import re
import sys

CALL = re.compile(r"^(?:\d+ +)?(\d+\.\d+) (\w+)\((\d+),.*\) += (\d+)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    total = {}
    src = []
    started = False
    with open(sys.argv[1]) as f:
        for line in f:
            m = CALL.match(line)
            if not m:
                continue
            t, name, fd, n = float(m[1]), m[2], int(m[3]), int(m[4])
            if name in ("read", "write") and (fd == 2 or
                                              (fd > 2 and not started)):
                continue
            if name in ("splice", "tee"):
                started = True
            total[name] = total.get(name, 0) + n
            if name == "splice" and fd == 0:
                src.append((t, n))
    for name in sorted(total):
        print(name, total[name])
    best = 0
    j = 0
    acc = 0
    for i, (t, n) in enumerate(src):
        acc += n
        while src[j][0] <= t - 1.0:
            acc -= src[j][1]
            j += 1
        best = max(best, acc)
    print("window", best)


main()
