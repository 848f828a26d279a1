#!/usr/bin/env python3
"""Instructions our server spends per synchronous get (or per pipelined put),
socket loop included.

Usage:
    bench/request_instructions.py [--ours-dir DIR] [--small N] [--large N]
                                  [--op get|put] [--pv PV] [--ioc-arg ARG ...] [--keep DIR]

`caproto-ioc simple` runs under valgrind's callgrind (one circuit thread,
normal priority); a raw CA client in this script connects to simple:B (or
--pv, e.g. a record of `--ioc-arg=-d --ioc-arg=bench/catime.db`) and
does N synchronous DBR_DOUBLE gets, one at a time, then the IOC is stopped
with SIGTERM. With `--op put` it sends N DBR_DOUBLE writes without waiting
(as catime's "async put": values 0, 1, 2, ...) and then one get, whose
reply says every write has been handled. Done for N = --small and N =
--large; the difference of the two totals divided by the difference of N
is the cost of one request: reading it, answering it and waiting for the
next, every tokio turn included, start-up and shutdown cancelled out. `cargo bench --bench
server_requests` measures the protocol core and the PV access alone; this
measures what a single round trip (catime's synchronous get and latency
rows) costs the server's thread. Instruction counts are deterministic, so
one run suffices; the client's own costs are not counted (it is another
process).

Loopback only (bench/run.py's environment, a free port per run); the IOC
is stopped by pid. Needs valgrind. Stdlib only.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402


def header(cmd, size, dtype, count, p1, p2):
    return struct.pack(">HHHHII", cmd, size, dtype, count, p1, p2)


def padded(text):
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 8)


def read_messages(sock, buf):
    """Read until at least one whole message is buffered; return (messages, rest)."""
    while True:
        out, at = [], 0
        while len(buf) - at >= 16:
            cmd, size, dtype, count, p1, p2 = struct.unpack(">HHHHII", buf[at:at + 16])
            if len(buf) - at < 16 + size:
                break
            out.append((cmd, p1, p2))
            at += 16 + size
        if out:
            return out, buf[at:]
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk


def drive(port, n, pv="simple:B", op="get"):
    """Connect to `pv` on 127.0.0.1:port and do n synchronous gets, or n
    pipelined writes followed by one get."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name, user, host = padded(pv), padded("bench"), padded("localhost")
        sock.sendall(
            header(0, 0, 0, 13, 0, 0)
            + header(20, len(user), 0, 0, 0, 0) + user
            + header(21, len(host), 0, 0, 0, 0) + host
            + header(18, len(name), 0, 0, 1, 13) + name
        )
        buf, sid = b"", None
        while sid is None:
            msgs, buf = read_messages(sock, buf)
            for cmd, _p1, p2 in msgs:
                if cmd == 18:
                    sid = p2
        if op == "put":
            writes = b"".join(
                header(4, 8, 6, 1, sid, i) + struct.pack(">d", float(i)) for i in range(n)
            )
            sock.sendall(writes)
            n = 1
        for ioid in range(n):
            sock.sendall(header(15, 0, 6, 1, sid, ioid))
            answered = False
            while not answered:
                msgs, buf = read_messages(sock, buf)
                answered = any(cmd == 15 for cmd, _p1, _p2 in msgs)


def instructions(exe, n, tmp, args):
    """Total instructions (callgrind Ir) of the IOC for n gets (or puts)."""
    port = R.free_port()
    out = os.path.join(tmp, f"callgrind.{port}")
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("EPICS_"):
            del env[k]
    env.update(R.LOOPBACK_ENV)
    env["EPICS_CA_SERVER_PORT"] = env["EPICS_CAS_SERVER_PORT"] = str(port)
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            exe, "simple", "--circuit-threads", "1", "--rt-priority", "0", *args.ioc_arg]
    proc = R.spawn(argv, env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    try:
        if not R.wait_tcp(port, proc, timeout=120):
            raise RuntimeError("caproto-ioc under valgrind did not start")
        drive(port, n, args.pv, args.op)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        R.forget(proc)
    if args.keep:
        shutil.copy(out, os.path.join(args.keep, f"callgrind.{args.op}.{n}"))
    with open(out) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ours-dir", default=os.path.join(R.ROOT, "target", "release"))
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=3000)
    ap.add_argument("--op", choices=("get", "put"), default="get",
                    help="synchronous gets (default) or pipelined DBR_DOUBLE puts")
    ap.add_argument("--keep", metavar="DIR",
                    help="copy the callgrind outputs to DIR (for callgrind_annotate)")
    ap.add_argument("--pv", default="simple:B", help="PV to use (default simple:B)")
    ap.add_argument("--ioc-arg", action="append", default=[],
                    help="extra caproto-ioc argument, e.g. --ioc-arg=-d --ioc-arg=bench/catime.db")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind not found (apt-get install valgrind)")
    exe = os.path.join(args.ours_dir, "caproto-ioc")
    if not os.access(exe, os.X_OK):
        sys.exit(f"{exe} not found: cargo build --release --bins")
    tmp = tempfile.mkdtemp(prefix="caproto-instr-")
    try:
        small = instructions(exe, args.small, tmp, args)
        large = instructions(exe, args.large, tmp, args)
    finally:
        shutil.rmtree(tmp, True)
    per = (large - small) / (args.large - args.small)
    what = "synchronous get" if args.op == "get" else "pipelined put"
    print(f"caproto-ioc ({args.pv}): {small} instructions for {args.small} {args.op}s, "
          f"{large} for {args.large}: {per:.0f} per {what}")


if __name__ == "__main__":
    main()
