#!/usr/bin/env python3
"""Opens files at given offsets on given descriptor numbers, then runs a
command that inherits them.

    seekrun.py FD r|w PATH OFFSET [FD r|w PATH OFFSET...] -- COMMAND [ARG...]

"w" opens for writing, creating the file but never truncating it."""
import os
import sys


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    i = args.index("--")
    spec, cmd = args[:i], args[i + 1:]
    if len(spec) % 4 or not cmd:
        sys.exit(__doc__)
    for j in range(0, len(spec), 4):
        fd, mode, path, off = int(spec[j]), spec[j + 1], spec[j + 2], int(spec[j + 3])
        flags = os.O_RDONLY if mode == "r" else os.O_WRONLY | os.O_CREAT
        f = os.open(path, flags, 0o666)
        os.lseek(f, off, os.SEEK_SET)
        if f != fd:
            os.dup2(f, fd)
            os.close(f)
        os.set_inheritable(fd, True)
    os.execvp(cmd[0], cmd)


main()
