#!/usr/bin/env python3
"""The client at facility scale (issue 23): our caproto-get / caproto-monitor beside
EPICS caget / camonitor (and caproto's Python tools where they finish in time), with
1 000, 10 000 and 100 000 PVs on one softIoc, alternating runs in one session.

Usage:
    bench/client_scale.py [--sizes 1000,10000,100000] [--rounds N] [--only get,monitor,reconnect]
                          [--monitor-secs S] [--caproto-max N] [--no-build] [--ours-dir DIR] [--out FILE]

get        one `get` of all N ai records (`-w 30`): wall time, CPU (user+sys), peak
           RSS, and how many values were printed (every one must be).
monitor    N calc records scanned at 1 Hz, monitored for --monitor-secs (10 s) with
           output to a pipe this script counts: lines printed, CPU per update, peak RSS.
reconnect  N monitored ai records; once every value is in, softIoc is killed and
           started again on the same port; the time from the new softIoc's start
           until every PV has printed a value again.

Sides alternate within each round (EPICS first in odd rounds, ours first in even
ones), so the machine's drift hits both alike; medians per side and the ratio
ours / EPICS (below 1.0 is better for times, CPU and memory) are reported. Memory
"grows linearly" when RSS per PV is about constant across sizes: the report gives
RSS / N for each size.

Reuses bench/run.py's process handling: loopback-only environment, free ports, its
own caRepeater, every process stopped by pid at exit. Stdlib only.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
import run as common  # noqa: E402

SIDES = ("epics", "ours")


def log(msg):
    common.log(msg)


def write_db(env, n, kind):
    """A database of `n` records named s:I (ai, passive) or c:I (calc at 1 Hz)."""
    path = os.path.join(env.tmp, f"{kind}{n}.db")
    with open(path, "w") as f:
        for i in range(n):
            if kind == "ai":
                f.write(f'record(ai, "s:{i}") {{ field(VAL, "{i}.5") field(UDF, "0") }}\n')
            else:
                f.write(f'record(calc, "c:{i}") {{ field(SCAN, "1 second") field(CALC, "VAL+1") }}\n')
    return path


class SoftIoc:
    """softIoc on a fixed port, restartable on the same port."""

    def __init__(self, env, db, port):
        self.env, self.db, self.port = env, db, port
        self.proc = None
        self.log_f = open(os.path.join(env.tmp, f"softioc-{port}.log"), "ab")

    def start(self):
        exe = self.env.epics("softIoc")
        e = self.env.env_for(self.port)
        self.proc = common.spawn(
            [exe, "-S", "-d", self.db], e, stdin=subprocess.PIPE, stdout=self.log_f, stderr=subprocess.STDOUT
        )
        if not common.wait_tcp(self.port, self.proc, timeout=120):
            raise RuntimeError("softIoc did not start")

    def kill(self):
        common._kill_pid(self.proc.pid, 9)
        self.proc.wait()
        common.forget(self.proc)

    def stop(self):
        if self.proc:
            common.stop(self.proc)


def names_file(env, n, prefix):
    path = os.path.join(env.tmp, f"names-{prefix}{n}.txt")
    with open(path, "w") as f:
        f.write("\n".join(f"{prefix}:{i}" for i in range(n)))
    return path


def names(n, prefix):
    return [f"{prefix}:{i}" for i in range(n)]


def get_argv(env, side, n):
    if side == "epics":
        return [env.epics("caget"), "-w", "30", *names(n, "s")]
    if side == "caproto":
        return [env.caproto("caproto-get"), "--no-repeater", "--timeout", "30", *names(n, "s")]
    return [env.ours("caproto-get"), "-w", "30", *names(n, "s")]


def monitor_argv(env, side, pvs):
    if side == "epics":
        return [env.epics("camonitor"), "-w", "30", *pvs]
    return [env.ours("caproto-monitor"), "-w", "30", *pvs]


def measure_get(env, port, side, n):
    e = env.env_for(port)
    res = common.run_once(get_argv(env, side, n), e, timeout=120, capture=True, tmpdir=env.tmp)
    lines = sum(1 for line in res.out.splitlines() if line.strip())
    return {"wall": res.wall, "cpu": res.cpu, "rss": res.rss_kib, "values": lines}


class Watched:
    """A monitor process whose stdout lines are counted per PV as they come."""

    def __init__(self, argv, env, tmpdir):
        time_file = os.path.join(tmpdir, f"rss-{time.monotonic_ns()}")
        self.rss_file = time_file
        argv = [common.TIME_BIN, "-q", "-o", time_file, "-f", "%M %U %S", *argv] if common.TIME_BIN else argv
        self.proc = common.spawn(argv, env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lock = threading.Lock()
        self.lines = 0
        self.seen = {}
        self.epoch = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            name = raw.split(None, 1)[0] if raw.strip() else b""
            if b"***" in raw:
                continue
            with self.lock:
                self.lines += 1
                self.seen[name] = self.epoch

    def count(self):
        with self.lock:
            return self.lines

    def new_epoch(self):
        with self.lock:
            self.epoch += 1

    def current(self):
        """How many PVs printed a value since the last new_epoch()."""
        with self.lock:
            return sum(1 for v in self.seen.values() if v == self.epoch)

    def finish(self):
        """SIGINT, wait, and return (peak RSS KiB, CPU seconds)."""
        common._kill_pid(self.proc.pid, 2)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            common._kill_pid(self.proc.pid, 9)
            self.proc.wait()
        common.forget(self.proc)
        self.thread.join(5)
        try:
            with open(self.rss_file) as f:
                parts = f.read().split()
            return int(parts[-3]), float(parts[-2]) + float(parts[-1])
        except (OSError, ValueError, IndexError):
            return None, None


def wait_until(pred, timeout, step=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def measure_monitor(env, port, side, n, secs):
    e = env.env_for(port)
    w = Watched(monitor_argv(env, side, names(n, "c")), e, env.tmp)
    t0 = time.monotonic()
    time.sleep(secs)
    lines = w.count()
    rss, cpu = w.finish()
    return {"lines": lines, "secs": time.monotonic() - t0, "rss": rss, "cpu": cpu,
            "cpu_per_update_us": (cpu / lines * 1e6) if (cpu and lines) else None}


def measure_reconnect(env, ioc, side, n):
    e = env.env_for(ioc.port)
    w = Watched(monitor_argv(env, side, names(n, "s")), e, env.tmp)
    ok = wait_until(lambda: w.current() >= n, 120)
    if not ok:
        w.finish()
        return {"secs": None, "note": f"only {w.current()} of {n} first values"}
    ioc.kill()
    time.sleep(1.0)
    w.new_epoch()
    t0 = time.monotonic()
    ioc.start()
    ok = wait_until(lambda: w.current() >= n, 120)
    secs = time.monotonic() - t0 if ok else None
    got = w.current()
    w.finish()
    return {"secs": secs, "back": got}


def alternating(env, n, kind, rounds, label, measure, after=None):
    """Serve N records of `kind` from one softIoc and run `measure(ioc, side)` for
    both sides, `rounds` times, EPICS first in odd rounds and ours first in even ones
    (then `after(ioc, results)`, if given); the IOC is stopped by pid at the end."""
    ioc = SoftIoc(env, write_db(env, n, kind), common.free_port())
    ioc.start()
    res = {s: [] for s in SIDES}
    try:
        for r in range(rounds):
            for side in SIDES if r % 2 == 0 else tuple(reversed(SIDES)):
                m = measure(ioc, side)
                log(f"{label} N={n} {side}: {m}")
                res[side].append(m)
        if after:
            after(ioc, res)
    finally:
        ioc.stop()
    return res


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{v}{unit}"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="get,monitor,reconnect")
    ap.add_argument("--monitor-secs", type=float, default=10.0)
    ap.add_argument("--monitor-sizes", default="1000,10000")
    ap.add_argument("--reconnect-sizes", default="1000,10000")
    ap.add_argument("--caproto-max", type=int, default=1000,
                    help="largest N for which caproto's Python caproto-get is run too")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--ours-dir")
    ap.add_argument("--out")
    args = ap.parse_args()
    env = common.Env(args)
    if not args.no_build:
        common.build_ours(env)
    only = set(args.only.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
    rep = common.start_repeater(env)
    report = [f"# bench/client_scale.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
              f"load at start: {open('/proc/loadavg').read().split()[:3]}", ""]

    if "get" in only:
        report += ["## get of N ai records (`-w 30`), medians of %d alternating rounds" % args.rounds, "",
                   "| N | tool | wall s | CPU s | peak RSS MiB | RSS KiB / PV | values | ours/EPICS wall | CPU | RSS |",
                   "|---|---|---|---|---|---|---|---|---|---|"]
        for n in sizes:
            def caproto_too(ioc, res, n=n):
                if n <= args.caproto_max and env.caproto("caproto-get"):
                    m = measure_get(env, ioc.port, "caproto", n)
                    log(f"get N={n} caproto: {m}")
                    res["caproto"] = [m]

            res = alternating(env, n, "ai", args.rounds, "get",
                              lambda ioc, side, n=n: measure_get(env, ioc.port, side, n), caproto_too)
            med = {s: {k: median([m[k] for m in res[s]]) for k in ("wall", "cpu", "rss", "values")}
                   for s in res if res[s]}
            for s in med:
                m = med[s]
                tail = ""
                if s != "epics":
                    e_ = med["epics"]
                    tail = f"{ratio(m['wall'], e_['wall'])} | {ratio(m['cpu'], e_['cpu'])} | {ratio(m['rss'], e_['rss'])}"
                else:
                    tail = " | | "
                report.append(f"| {n} | {s} | {fmt(m['wall'])} | {fmt(m['cpu'])} | {fmt(m['rss'] / 1024 if m['rss'] else None)} "
                              f"| {fmt(m['rss'] / n if m['rss'] else None)} | {fmt(m['values'])} | {tail} |")
        report.append("")

    if "monitor" in only:
        report += [f"## monitor of N calc records at 1 Hz for {args.monitor_secs:.0f} s, medians of {args.rounds} rounds", "",
                   "| N | tool | lines | CPU s | CPU µs / update | peak RSS MiB | ours/EPICS CPU | RSS |",
                   "|---|---|---|---|---|---|---|---|"]
        for n in [int(s) for s in args.monitor_sizes.split(",")]:
            res = alternating(env, n, "calc", args.rounds, "monitor",
                              lambda ioc, side, n=n: measure_monitor(env, ioc.port, side, n, args.monitor_secs))
            med = {s: {k: median([m[k] for m in res[s]]) for k in ("lines", "cpu", "cpu_per_update_us", "rss")}
                   for s in res}
            for s in SIDES:
                m = med[s]
                tail = " | " if s == "epics" else f"{ratio(m['cpu'], med['epics']['cpu'])} | {ratio(m['rss'], med['epics']['rss'])}"
                report.append(f"| {n} | {s} | {fmt(m['lines'])} | {fmt(m['cpu'])} | {fmt(m['cpu_per_update_us'])} "
                              f"| {fmt(m['rss'] / 1024 if m['rss'] else None)} | {tail} |")
        report.append("")

    if "reconnect" in only:
        report += [f"## N monitored ai records, softIoc killed and restarted: seconds until every value is back, medians of {args.rounds} rounds", "",
                   "| N | camonitor s | ours s | ours/EPICS |", "|---|---|---|---|"]
        for n in [int(s) for s in args.reconnect_sizes.split(",")]:
            res = alternating(env, n, "ai", args.rounds, "reconnect",
                              lambda ioc, side, n=n: measure_reconnect(env, ioc, side, n)["secs"])
            e_, o_ = median(res["epics"]), median(res["ours"])
            report.append(f"| {n} | {fmt(e_)} | {fmt(o_)} | {ratio(o_, e_)} |")
        report.append("")

    report.append(f"load at end: {open('/proc/loadavg').read().split()[:3]}")
    if rep:
        common.stop(rep)
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
