#!/usr/bin/env python3
"""Fault-injection sweep: every program on its main paths, with one
syscall failing under strace -e inject=CALL:error=ERRNO:when=W.

For each scenario (a program, its operands, and peers that feed it and
receive from it) the driver first runs it once under strace without a
fault, to learn which of the syscalls below that path really makes and how
many of them the dynamic loader makes before main (the `when` points count
from the first call the program itself makes). Then every case runs the
scenario with one fault injected and checks:

  - the program ends within a bounded time (a hang is a failure);
  - it is not killed by a signal;
  - exit status 0 means every output (files, pipes, sockets, both ways for
    zcat-net) has exactly the bytes sent (sha256);
  - a non-zero status comes with a message on standard error (unless the
    fault was in write(2), which may have been the message's own write).

Usage: sweep.py [-j JOBS] [-k PATTERN] [--full] [--list] [--case ID]
The default run is a deterministic sample; --full (or ZC_SWEEP=full in
the environment) runs every case. Exit 0 pass, 1 fail, 77 skip.
"""

import argparse
import errno
import hashlib
import os
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ZCOPY = os.environ.get("ZCOPY", "zcopy")
ZTEE = os.environ.get("ZTEE", "ztee")
ZCAT_NET = os.environ.get("ZCAT_NET", "zcat-net")

CASE_TIMEOUT = float(os.environ.get("ZC_SWEEP_TIMEOUT", "20"))
IO_TIMEOUT = CASE_TIMEOUT + 5

# The errnos each call can really return (from its manual page; EINTR
# also where a signal handler without SA_RESTART could cause it).
ERRNOS = {
    "splice": ["EINTR", "EAGAIN", "EINVAL", "ENOSYS", "ENOMEM", "EIO",
               "EPIPE", "ENOSPC"],
    "tee": ["EINTR", "EAGAIN", "EINVAL", "ENOSYS", "ENOMEM"],
    "sendfile": ["EINTR", "EAGAIN", "EINVAL", "ENOSYS", "EIO", "ENOMEM",
                 "EPIPE", "ENOSPC"],
    "copy_file_range": ["EINTR", "EXDEV", "EINVAL", "EOPNOTSUPP", "ENOSYS",
                        "EIO", "ENOSPC", "EPERM"],
    "read": ["EINTR", "EAGAIN", "EIO", "ECONNRESET"],
    "write": ["EINTR", "EAGAIN", "EIO", "ENOSPC", "EPIPE", "ECONNRESET"],
    "poll": ["EINTR", "ENOMEM"],
    "ppoll": ["EINTR", "ENOMEM"],
    "epoll_wait": ["EINTR"],
    "epoll_pwait": ["EINTR"],
    "epoll_ctl": ["ENOMEM", "ENOSPC", "EPERM"],
    "epoll_create1": ["EMFILE", "ENFILE", "ENOMEM"],
    "pipe2": ["EMFILE", "ENFILE"],
    "fcntl": ["EPERM", "EBUSY", "EINVAL"],
    "accept4": ["EINTR", "EAGAIN", "ECONNABORTED", "EPROTO", "EPERM",
                "EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"],
    "connect": ["EINTR", "EAGAIN", "ECONNREFUSED", "ETIMEDOUT",
                "ENETUNREACH", "EACCES"],
    "close": ["EINTR", "EIO"],
    "socket": ["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "EACCES"],
    "setsockopt": ["ENOMEM", "ENOBUFS", "EINVAL", "ENOPROTOOPT", "EPERM"],
    "getsockopt": ["ENOBUFS", "EINVAL", "ENOPROTOOPT"],
    "bind": ["EADDRINUSE", "EACCES"],
    "listen": ["EADDRINUSE"],
    "shutdown": ["ENOTCONN"],
    "openat": ["EINTR", "ENOENT", "EACCES", "EMFILE", "ENFILE", "ENOSPC",
               "EIO", "EPERM"],
    "recvfrom": ["EINTR", "EAGAIN", "ECONNRESET", "ENOMEM"],
    "sendto": ["EINTR", "EAGAIN", "EPIPE", "ECONNRESET", "ENOBUFS"],
    "sendmsg": ["EINTR", "EAGAIN", "EPIPE", "ECONNRESET", "ENOBUFS"],
    "recvmsg": ["EINTR", "EAGAIN", "ECONNRESET", "ENOMEM"],
}

# A retry of these can go on forever: inject them a bounded number of
# times only (never "N+" without a step).
TRANSIENT = {"EINTR", "EAGAIN"}

# Cases that fail today for a reason reported and not yet fixed. The
# driver runs them, reports them apart, and does not count them as
# failures; one that passes is reported so that it can be removed.
# Each key is a regular expression matched against the whole case id
# (scenario/call/errno/when).
KNOWN_FAILURES = {
}


def known(cid):
    for k, why in KNOWN_FAILURES.items():
        if re.fullmatch(k, cid):
            return why
    return None

SIZE_A = 2 * 1048576 + 4099
SIZE_B = 1048576 + 777


def sha(b):
    return hashlib.sha256(b).hexdigest()


# Unique TCP ports for the whole run, below both the ephemeral range and
# the 20000-59999 the bats tests pick theirs from, each checked free when
# handed out.
_port_lock = threading.Lock()
_port_next = [12000 + (os.getpid() * 37) % 8000]


def free_port():
    with _port_lock:
        while True:
            p = _port_next[0]
            _port_next[0] = 12000 + (p - 12000 + 1) % 8000
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
            finally:
                s.close()


class Peer(threading.Thread):
    """Receives everything from one connection (and may send data to it
    at the same time); got is None until the connection ends."""

    def __init__(self, send=None):
        super().__init__(daemon=True)
        self.send = send
        self.got = None
        self.err = None
        self.stop = threading.Event()
        self.pid = None

    def talk(self, c):
        c.settimeout(IO_TIMEOUT)
        sender = None
        if self.send is not None:
            def push():
                try:
                    c.sendall(self.send)
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            sender = threading.Thread(target=push, daemon=True)
            sender.start()
        buf = bytearray()
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                buf += b
            self.got = bytes(buf)
        except OSError as e:
            self.err = e
            self.partial = bytes(buf)
        if sender:
            sender.join(IO_TIMEOUT)
        c.close()


class Server(Peer):
    """A listener (TCP on 127.0.0.1 or unix at path) taking one
    connection."""

    def __init__(self, path=None, send=None):
        super().__init__(send)
        if path:
            self.ls = socket.socket(socket.AF_UNIX)
            self.ls.bind(path)
        else:
            self.ls = socket.socket()
            self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.ls.bind(("127.0.0.1", 0))
            self.port = self.ls.getsockname()[1]
        self.ls.listen(8)
        self.ls.settimeout(0.1)

    def run(self):
        deadline = time.monotonic() + IO_TIMEOUT
        try:
            while time.monotonic() < deadline:
                # once the program has gone, only a connection already
                # made (in the backlog) is left to take
                last = self.stop.is_set()
                if last:
                    self.ls.setblocking(False)
                try:
                    c, _ = self.ls.accept()
                except (socket.timeout, BlockingIOError):
                    if last:
                        return
                    continue
                c.setblocking(True)
                self.talk(c)
                return
        finally:
            self.ls.close()


def descendants(pid):
    """pid and every process below it."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def listens_on(pid, port):
    """Whether a process in pid's tree listens on 127.0.0.1:port, so
    that a peer never talks to someone else's listener that happens to
    have the port."""
    want = "0100007F:%04X" % port
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            w = line.split()
            if w[1] == want and w[3] == "0A":
                inodes.add("socket:[%s]" % w[9])
    if not inodes:
        return False
    for p in descendants(pid):
        try:
            for fd in os.listdir("/proc/%d/fd" % p):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (p, fd)) in inodes:
                        return True
                except OSError:
                    pass
        except OSError:
            pass
    return False


class Client(Peer):
    """Connects to the program's listener (retrying until it listens or
    the program has gone) and talks. pid is set to the program's once it
    runs."""

    def __init__(self, addr, send=None):
        super().__init__(send)
        self.addr = addr
        self.pid = None

    def run(self):
        deadline = time.monotonic() + IO_TIMEOUT
        while not self.stop.is_set() and time.monotonic() < deadline:
            if self.pid is None or (not isinstance(self.addr, str) and
                                    not listens_on(self.pid,
                                                   self.addr[1])):
                time.sleep(0.01)
                continue
            fam = socket.AF_UNIX if isinstance(self.addr, str) \
                else socket.AF_INET
            c = socket.socket(fam)
            try:
                c.connect(self.addr)
            except OSError:
                c.close()
                time.sleep(0.01)
                continue
            self.talk(c)
            return


class Feeder(threading.Thread):
    """Writes data into a pipe and closes it."""

    def __init__(self, fd, data):
        super().__init__(daemon=True)
        self.fd, self.data = fd, data

    def run(self):
        try:
            with os.fdopen(self.fd, "wb", buffering=0) as f:
                mv = memoryview(self.data)
                while mv:
                    n = f.write(mv)
                    mv = mv[n:]
        except OSError:
            pass


class Drain(threading.Thread):
    """Reads a pipe to its end."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.got = None

    def run(self):
        buf = bytearray()
        with os.fdopen(self.fd, "rb", buffering=0) as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                buf += b
        self.got = bytes(buf)


class Run:
    """What a scenario needs for one run: a temp dir, stdin, stdout,
    peers and the outputs to check."""

    def __init__(self, tmp, data):
        self.tmp = tmp
        self.data = data
        self.stdin = subprocess.DEVNULL
        self.stdout = subprocess.DEVNULL
        self.feeders = []
        self.drains = []
        self.peers = []
        self.outputs = []	# (label, getter returning bytes or None, want)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def stdin_file(self):
        self.stdin = open(self.data["A_path"], "rb")

    def stdin_pipe(self):
        r, w = os.pipe()
        self.stdin = r
        self.feeders.append(Feeder(w, self.data["A"]))

    def stdout_file(self, name, want):
        p = self.path(name)
        self.stdout = open(p, "wb")
        self.file_out(name, want)

    def stdout_pipe(self, want):
        r, w = os.pipe()
        self.stdout = w
        d = Drain(r)
        self.drains.append(d)
        self.outputs.append(("stdout pipe", lambda: d.got, want))

    def file_out(self, name, want):
        p = self.path(name)

        def get():
            try:
                with open(p, "rb") as f:
                    return f.read()
            except OSError:
                return None
        self.outputs.append((name, get, want))

    def peer(self, label, p, want=None):
        self.peers.append(p)
        if want is not None:
            self.outputs.append((label, lambda: p.got, want))
        return p


def A(r):
    return r.data["A"]


def B(r):
    return r.data["B"]


# Scenarios: name -> function(Run) returning argv. Each sets up stdin,
# stdout, peers and the outputs to check.
def zcopy_file_file(r):
    r.file_out("out", A(r))
    return [ZCOPY, r.data["A_path"], r.path("out")]


def zcopy_file_pipe(r):
    r.stdout_pipe(A(r))
    return [ZCOPY, r.data["A_path"], "-"]


def zcopy_pipe_file(r):
    r.stdin_pipe()
    r.file_out("out", A(r))
    return [ZCOPY, "-", r.path("out")]


def zcopy_pipe_pipe(r):
    r.stdin_pipe()
    r.stdout_pipe(A(r))
    return [ZCOPY]


def zcopy_file_tcp(r):
    s = r.peer("tcp peer", Server(), A(r))
    return [ZCOPY, r.data["A_path"], "127.0.0.1:%d" % s.port]


def zcopy_pipe_tcp(r):
    r.stdin_pipe()
    s = r.peer("tcp peer", Server(), A(r))
    return [ZCOPY, "-", "127.0.0.1:%d" % s.port]


def zcopy_tcp_file(r):
    s = r.peer("tcp peer", Server(send=A(r)))
    r.file_out("out", A(r))
    return [ZCOPY, "127.0.0.1:%d" % s.port, r.path("out")]


def zcopy_listen_file(r):
    port = free_port()
    r.peer("tcp client", Client(("127.0.0.1", port), send=A(r)))
    r.file_out("out", A(r))
    return [ZCOPY, "-w", "10", "listen:127.0.0.1:%d" % port, r.path("out")]


def zcopy_file_listen(r):
    port = free_port()
    r.peer("tcp client", Client(("127.0.0.1", port)), A(r))
    return [ZCOPY, "-w", "10", r.data["A_path"], "listen:127.0.0.1:%d" % port]


def zcopy_file_unix(r):
    p = r.path("u.sock")
    r.peer("unix peer", Server(path=p), A(r))
    return [ZCOPY, r.data["A_path"], "unix:" + p]


def zcopy_unix_listen_pipe(r):
    p = r.path("l.sock")
    r.peer("unix client", Client(p, send=A(r)))
    r.stdout_pipe(A(r))
    return [ZCOPY, "-w", "10", "unix-listen:" + p, "-"]


def ztee_mixed(r):
    r.stdin_pipe()
    r.stdout_pipe(A(r))
    t = r.peer("tcp peer", Server(), A(r))
    u = r.peer("unix peer", Server(path=r.path("u.sock")), A(r))
    r.file_out("o1", A(r))
    r.file_out("o2", A(r))
    return [ZTEE, r.path("o1"), "127.0.0.1:%d" % t.port,
            "unix:" + r.path("u.sock"), r.path("o2")]


def ztee_files(r):
    r.stdin_file()
    r.stdout_file("stdout", A(r))
    r.file_out("o1", A(r))
    r.file_out("o2", A(r))
    return [ZTEE, r.path("o1"), r.path("o2")]


def zcn_client(r):
    r.stdin_file()
    r.stdout_pipe(B(r))
    s = r.peer("tcp peer", Server(send=B(r)), A(r))
    return [ZCAT_NET, "127.0.0.1", str(s.port)]


def zcn_client_unix(r):
    r.stdin_pipe()
    r.stdout_file("stdout", B(r))
    p = r.path("u.sock")
    r.peer("unix peer", Server(path=p, send=B(r)), A(r))
    return [ZCAT_NET, "-U", p]


def zcn_listen(r):
    port = free_port()
    r.stdin_pipe()
    r.stdout_file("stdout", B(r))
    r.peer("tcp client", Client(("127.0.0.1", port), send=B(r)), A(r))
    return [ZCAT_NET, "-l", "127.0.0.1", str(port)]


def zcn_relay(r):
    port = free_port()
    s = r.peer("tcp server", Server(send=B(r)), A(r))
    r.peer("tcp client", Client(("127.0.0.1", port), send=A(r)), B(r))
    return [ZCAT_NET, "listen:127.0.0.1:%d" % port,
            "127.0.0.1:%d" % s.port]


def zcn_relay_unix(r):
    p = r.path("l.sock")
    s = r.peer("tcp server", Server(send=B(r)), A(r))
    r.peer("unix client", Client(p, send=A(r)), B(r))
    return [ZCAT_NET, "unix-listen:" + p, "127.0.0.1:%d" % s.port]


# name: (function, cheap). Cheap paths run every case by default; the
# others a deterministic sample.
SCENARIOS = {
    "zcopy-file-file": (zcopy_file_file, True),
    "zcopy-file-pipe": (zcopy_file_pipe, True),
    "zcopy-pipe-file": (zcopy_pipe_file, True),
    "zcopy-pipe-pipe": (zcopy_pipe_pipe, True),
    "zcopy-file-tcp": (zcopy_file_tcp, False),
    "zcopy-pipe-tcp": (zcopy_pipe_tcp, False),
    "zcopy-tcp-file": (zcopy_tcp_file, False),
    "zcopy-listen-file": (zcopy_listen_file, False),
    "zcopy-file-listen": (zcopy_file_listen, False),
    "zcopy-file-unix": (zcopy_file_unix, False),
    "zcopy-unixlisten-pipe": (zcopy_unix_listen_pipe, False),
    "ztee-mixed": (ztee_mixed, False),
    "ztee-files": (ztee_files, True),
    "zcat-net-client": (zcn_client, False),
    "zcat-net-client-unix": (zcn_client_unix, False),
    "zcat-net-listen": (zcn_listen, False),
    "zcat-net-relay": (zcn_relay, False),
    "zcat-net-relay-unix": (zcn_relay_unix, False),
}


class Result:
    def __init__(self):
        self.rc = None
        self.sig = None
        self.hung = False
        self.stderr = b""
        self.bad = []		# outputs not as sent
        self.elapsed = 0.0


def run_scenario(name, data, prefix):
    """Runs scenario name with argv prefixed by prefix (strace ...);
    returns (Result, argv)."""
    fn = SCENARIOS[name][0]
    tmp = tempfile.mkdtemp(prefix="zc-sweep.")
    r = Run(tmp, data)
    res = Result()
    argv = None
    try:
        argv = fn(r)
        full = prefix + argv
        for p in r.peers:
            p.start()
        t0 = time.monotonic()
        errf = open(os.path.join(tmp, "stderr"), "w+b")
        proc = subprocess.Popen(full, stdin=r.stdin, stdout=r.stdout,
                                stderr=errf, cwd=tmp,
                                start_new_session=True)
        for fd in (r.stdin, r.stdout):
            if isinstance(fd, int) and fd >= 0:
                os.close(fd)
            elif hasattr(fd, "close"):
                fd.close()
        for t in r.feeders + r.drains:
            t.start()
        for p in r.peers:
            p.pid = proc.pid
        try:
            rc = proc.wait(CASE_TIMEOUT)
        except subprocess.TimeoutExpired:
            res.hung = True
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        res.elapsed = time.monotonic() - t0
        # strace reports a tracee killed by a signal as 128 + signo
        # and by raising the same signal itself.
        if rc < 0:
            res.sig = -rc
        elif prefix and rc > 128 and rc - 128 in (signal.SIGSEGV,
                signal.SIGABRT, signal.SIGBUS, signal.SIGPIPE,
                signal.SIGILL, signal.SIGFPE, signal.SIGKILL):
            res.sig = rc - 128
        res.rc = rc
        # A peer not connected yet will never be; one connected sees the
        # end of the connection now that the program has gone.
        for p in r.peers:
            p.stop.set()
        for p in r.peers:
            p.join(IO_TIMEOUT)
        for t in r.feeders:
            t.join(1)
        for t in r.drains:
            t.join(IO_TIMEOUT)
        errf.seek(0)
        res.stderr = errf.read()
        errf.close()
        for label, get, want in r.outputs:
            got = get()
            if got is None:
                res.bad.append("%s: nothing (connection or file missing)"
                               % label)
            elif got != want:
                res.bad.append("%s: %d bytes, sha256 %s..., want %d bytes"
                               " %s..." % (label, len(got), sha(got)[:12],
                                           len(want), sha(want)[:12]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res, argv


def strace_prefix(call, errname=None, when=None):
    p = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + call]
    if errname:
        p += ["-e", "inject=%s:error=%s:when=%s" % (call, errname, when)]
    return p


LINE = re.compile(r"^(?:\[pid\s+\d+\]\s*|\d+\s+)?([a-z_0-9]+)\((.*)$")


def trace_calls(argv_prefix_fn, name, data):
    """Runs a scenario under strace tracing every call of interest;
    returns {call: [line text without result]}."""
    tmp = tempfile.mkdtemp(prefix="zc-sweep-trace.")
    out = os.path.join(tmp, "trace")
    try:
        res, argv = run_scenario(name, data, argv_prefix_fn(out))
        calls = {}
        with open(out, errors="replace") as f:
            for line in f:
                m = LINE.match(line)
                if not m or m.group(1) not in ERRNOS:
                    continue
                text = m.group(2).rsplit(" = ", 1)[0]
                calls.setdefault(m.group(1), []).append(text)
        return res, argv, calls
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def startup_calls(prog):
    """The calls a program makes before it does anything of its own:
    those of `prog --version`, by name."""
    tmp = tempfile.mkdtemp(prefix="zc-sweep-trace.")
    out = os.path.join(tmp, "trace")
    try:
        subprocess.run(["strace", "-f", "-qq", "-o", out,
                        "-e", "trace=" + ",".join(ERRNOS), prog,
                        "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=CASE_TIMEOUT)
        calls = {}
        with open(out, errors="replace") as f:
            for line in f:
                m = LINE.match(line)
                if m and m.group(1) in ERRNOS:
                    calls.setdefault(m.group(1), []).append(
                        m.group(2).rsplit(" = ", 1)[0])
        return calls
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def common_prefix(a, b):
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def when_points(skip, n, errname):
    """The when= points for a call the loader makes skip times and the
    program n times: its 1st, 2nd and 3rd call, a run of them, every
    other one from the 5th, the last; from the 3rd on for good where a
    lasting fault cannot make a retry loop."""
    pts = [(1, "1"), (2, "2"), (3, "3"), (n, "last")]
    out = []
    seen = set()
    for k, label in pts:
        if k > n or k in seen:
            continue
        seen.add(k)
        out.append((str(skip + k), label if label == "last" else str(k)))
    if n >= 3:
        out.append(("%d..%d" % (skip + 2, skip + 6), "2..6"))
    if n >= 5:
        out.append(("%d+2" % (skip + 5), "5+2"))
    if errname not in TRANSIENT and n >= 3:
        out.append(("%d+" % (skip + 3), "3+"))
    return out


def build_cases(data, log):
    """Learns each scenario's calls and returns the list of cases:
    (id, scenario, call, errno, strace when, cheap)."""
    startup = {}
    cases = []
    broken = []
    for name, (fn, cheap) in SCENARIOS.items():
        res, argv, calls = trace_calls(
            lambda out: ["strace", "-f", "-qq", "-o", out, "-e",
                         "trace=" + ",".join(ERRNOS)], name, data)
        if res.rc != 0 or res.bad or res.hung:
            # once more: a loaded machine
            res, argv, calls = trace_calls(
                lambda out: ["strace", "-f", "-qq", "-o", out, "-e",
                             "trace=" + ",".join(ERRNOS)], name, data)
        if res.rc != 0 or res.bad or res.hung:
            broken.append("%s: without a fault: status %s%s %s %s" % (
                name, res.rc, " (hung)" if res.hung else "",
                "; ".join(res.bad), res.stderr.decode(errors="replace")))
            continue
        prog = argv[0]
        if prog not in startup:
            startup[prog] = startup_calls(prog)
        for call in ERRNOS:
            seq = calls.get(call, [])
            skip = common_prefix(startup[prog].get(call, []), seq)
            n = len(seq) - skip
            if n <= 0:
                continue
            for e in ERRNOS[call]:
                for when, label in when_points(skip, n, e):
                    cid = "%s/%s/%s/%s" % (name, call, e, label)
                    cases.append((cid, name, call, e, when, cheap))
        log("%s: %s" % (name, " ".join(
            "%s=%d" % (c, len(calls[c]) - common_prefix(
                startup[prog].get(c, []), calls[c]))
            for c in sorted(calls) if len(calls[c]) > common_prefix(
                startup[prog].get(c, []), calls[c]))))
    return cases, broken


def sample(cases):
    """The default run: every case of the cheap paths; for the others,
    every errno of every call at its first call and at one other when=
    point, taken in turn; and the known failures, to keep them in
    sight."""
    out = []
    turn = {}
    for c in cases:
        cid, name, call, e, when, cheap = c
        if cheap or known(cid):
            out.append(c)
            continue
        key = (name, call, e)
        turn.setdefault(key, []).append(c)
    for key, group in turn.items():
        out.append(group[0])
        if len(group) > 1:
            h = int(hashlib.sha256(("%s/%s/%s" % key).encode()).hexdigest(),
                    16)
            out.append(group[1 + h % (len(group) - 1)])
    order = {c[0]: i for i, c in enumerate(cases)}
    out.sort(key=lambda c: order[c[0]])
    return out


def judge(res, call, e):
    """Returns None if the case passed, else why not."""
    if res.hung:
        return "no end within %ds" % CASE_TIMEOUT
    if res.sig == signal.SIGPIPE and e == "EPIPE":
        return None	# ztee without -p dies of SIGPIPE on EPIPE, as tee
    if res.sig:
        return "killed by signal %d" % res.sig
    if res.rc == 0 and res.bad:
        return "exit 0 with " + "; ".join(res.bad)
    if res.rc != 0 and not res.stderr.strip() and call != "write":
        return "exit %d without a message" % res.rc
    return None


def reproduce(argv, call, e, when):
    return " ".join(shlex.quote(a) for a in
                    strace_prefix(call, e, when) + argv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", "--jobs", type=int,
                    default=int(os.environ.get("ZC_SWEEP_JOBS", "2")))
    ap.add_argument("-k", "--match", help="only case ids matching this "
                    "regular expression")
    ap.add_argument("--full", action="store_true",
                    default=os.environ.get("ZC_SWEEP") == "full")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    if not shutil.which("strace"):
        print("strace not installed: skipped")
        return 77
    if subprocess.run(["strace", "-o", "/dev/null", "true"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("strace cannot trace here: skipped")
        return 77
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":detect_leaks=0").lstrip(":")

    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="zc-sweep-data.")
    try:
        data = {"A": os.urandom(SIZE_A), "B": os.urandom(SIZE_B)}
        data["A_path"] = os.path.join(work, "A")
        with open(data["A_path"], "wb") as f:
            f.write(data["A"])

        def log(s):
            if a.verbose or a.list:
                print("# " + s, flush=True)
        allc, broken = build_cases(data, log)
        cases = allc if a.full else sample(allc)
        if a.match:
            rx = re.compile(a.match)
            cases = [c for c in cases if rx.search(c[0])]
        print("# %s run: %d of %d cases (%d scenarios, %d jobs)" % (
            "full" if a.full else "default (ZC_SWEEP=full for all)",
            len(cases), len(allc), len(SCENARIOS), a.jobs), flush=True)
        if a.list:
            for c in cases:
                print(c[0], c[4])
            return 0

        fails, kfails, fixed, notes = [], [], [], []
        lock = threading.Lock()
        done = [0]

        def one(c):
            cid, name, call, e, when, cheap = c
            res, argv = run_scenario(name, data,
                                     strace_prefix(call, e, when))
            why = judge(res, call, e)
            cmd = reproduce(argv, call, e, when)
            with lock:
                done[0] += 1
                if why and known(cid):
                    kfails.append((cid, why, cmd))
                elif why:
                    fails.append((cid, why, cmd, res.stderr))
                    print("FAIL %s: %s\n  %s\n  stderr: %s" % (
                        cid, why, cmd,
                        res.stderr.decode(errors="replace").strip()[:300]),
                        flush=True)
                elif known(cid):
                    fixed.append(cid)
                elif e in TRANSIENT and res.rc != 0:
                    notes.append((cid, res.stderr))
                if a.verbose:
                    print("%s %s: exit %s %.2fs" % (
                        "not ok" if why else "ok", cid, res.rc,
                        res.elapsed), flush=True)

        with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            list(ex.map(one, cases))

        for b in broken:
            print("FAIL scenario %s" % b)
        for cid, why, cmd in kfails:
            print("known failure %s: %s (%s)\n  %s" % (
                cid, why, known(cid), cmd))
        for k in KNOWN_FAILURES:
            hit = [c for c in fixed if re.fullmatch(k, c)]
            if hit and not [c for c, _, _ in kfails if re.fullmatch(k, c)]:
                print("known failure %s passes now (%s): remove it from "
                      "KNOWN_FAILURES if it keeps passing" % (k, hit[0]))
        # Not failures by the rule above, but worth a look: a retryable
        # error that ended the run.
        groups = {}
        for cid, err in notes:
            k = "/".join(cid.split("/")[:3])
            groups.setdefault(k, []).append(
                err.decode(errors="replace").strip().splitlines()[-1:])
        for k in sorted(groups):
            print("note: %s made the program exit non-zero %d time(s): %s"
                  % (k, len(groups[k]), (groups[k][0] or [""])[0][:160]))
        npass = len(cases) - len(fails) - len(kfails)
        print("%d cases, %d passed, %d failed, %d known failures, "
              "%d broken scenarios; %d with EINTR/EAGAIN exited non-zero; "
              "%.0fs" % (len(cases), npass, len(fails), len(kfails),
                         len(broken), len(notes), time.monotonic() - t0))
        for cid, why, cmd, err in fails:
            print("failed: %s: %s\n  %s\n  again: %s --full -v -k '^%s$'"
                  % (cid, why, cmd, sys.argv[0], re.escape(cid)))
        return 1 if fails or broken else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
