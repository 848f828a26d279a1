#!/usr/bin/env python3
"""EPICS `catime` and `caEventRate` against softIoc and against our caproto-ioc,
alternately, in one run: the server-speed check of issue 15.

Usage:
    bench/catime.py [--rounds N] [--count N] [--event-secs S] [--only catime|events]
                    [--no-build] [--ours-dir DIR] [--ours-pv PV] [--ioc-arg ARG ...] [--out FILE]

catime: softIoc (record bench:ai, as bench/run.py) and `caproto-ioc simple`
(simple:B, or --ours-pv: with `--ioc-arg=-d --ioc-arg=FILE` the same record
served from a .db file) are started once each; then `catime PV COUNT` runs against one and
the other in turn, N rounds, with the order swapped every round (softIoc first
in odd rounds, ours first in even ones) so that drift of the machine's load
hits both sides alike. Each catime row (channel connect, DBR_DOUBLE async put,
async get, synchronous get, get latency) gets the per-round values, the medians
and the ratio of the medians, ours / softIoc for rates and softIoc / ours for
the latency: above 1 means ours is better. A last column (information) gives
the median of each round's own ratio, whose two runs were back to back.

events: `caEventRate PV 1000` (1000 subscriptions to one PV) against a softIoc
calc record scanned at 1 kHz and `caproto-ioc ticker --rate 1000`, alternating
the same way. caEventRate prints a sample after 1 s, then after 2, 4, 8... s
more; the first sample is the warm-up, the rate is the event count over the
following samples (their duration-weighted mean), as many as cover
--event-secs (5 s: the 2 s and 4 s samples).

`--baseline simple` puts `caproto-ioc simple` (simple:B) where softIoc was, for
catime only: with `--ioc-arg=-d --ioc-arg=bench/catime.db --ours-pv bench:ai` it
compares the catime record served from a .db file against `simple:B` (issue 25's
"no slower than `caproto-ioc simple`"), both from the same build; with
`--ours-pv simple:B` instead (the .db IOC serves the example too) the two sides
are the same PV, which shows how far apart equal servers come out.

The report ends with whether every row is at least 1.0x. The machine's load
(/proc/loadavg) is recorded at start and end: numbers from a loaded machine
are noisy, compare ratios from the same run only.

Reuses bench/run.py's process handling: loopback-only environment, free ports
per run, its own caRepeater, every process stopped by pid at exit. Stdlib only.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
import run as common  # noqa: E402  (bench/run.py: processes, servers, parsers)

SIDES = ("epics", "ours")
SIDE_NAMES = {"epics": "softIoc", "ours": "ours"}
# The other side's catime PV, per --baseline.
BASELINE_PV = {"softioc": "bench:ai", "simple": "simple:B"}
EVENT_SUBS = 1000
EVENT_KEY = "events"


def log(msg):
    common.log(msg)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return "?"


def orders(rounds):
    """Side order per round: softIoc first in odd rounds, ours first in even ones."""
    return [SIDES if i % 2 == 0 else SIDES[::-1] for i in range(rounds)]


# --------------------------------------------------------------------------- catime


def catime_rounds(env, results):
    """Fill results[key][side] with one value per round (None where a run failed)."""
    catime = env.epics("catime")
    if not catime:
        raise RuntimeError(f"catime not found under {env.epics_bin}")
    dbd, static_db = env.files[:2]
    servers = {}
    try:
        if env.args.baseline == "simple":
            servers["epics"] = common.start_ours_ioc(env, "simple", name="ours-baseline")
        else:
            servers["epics"] = common.start_softioc(env, "softioc-catime", dbd, static_db)
        servers["ours"] = common.start_ours_ioc(env, "simple", *env.args.ioc_arg)
        if servers["ours"] is None:
            raise RuntimeError(f"caproto-ioc not found in {env.ours_bin} (build it, or see --ours-dir)")
        pvs = {"epics": BASELINE_PV[env.args.baseline], "ours": env.args.ours_pv}
        keys = [k for k, _, _ in common.CATIME_MEASURES] + ["cpu"]
        for k in keys:
            results.setdefault(k, {s: [] for s in SIDES})
        for rnd, order in enumerate(orders(env.args.rounds), 1):
            for side in order:
                srv = servers[side]
                cpu0 = srv.cpu()
                r = common.run_once(
                    [catime, pvs[side], str(env.args.count)],
                    srv.env,
                    env.args.timeout,
                    capture=True,
                    tmpdir=env.tmp,
                )
                cpu1 = srv.cpu()
                parsed = common.parse_catime(r.out) if r.ok else {}
                if not r.ok or "DBR_DOUBLE/async get" not in parsed:
                    why = common.short_err(r) if not r.ok else "catime output not understood"
                    log(f"catime round {rnd} {SIDE_NAMES[side]}: {why}")
                if srv.proc.poll() is not None:
                    raise RuntimeError(f"{SIDE_NAMES[side]} server exited during round {rnd}")
                for k in keys:
                    if k == "cpu":
                        v = cpu1 - cpu0 if parsed and cpu0 is not None and cpu1 is not None else None
                    else:
                        v = parsed.get(k)
                    results[k][side].append(v)
                summary = ", ".join(
                    f"{k} {fmt_value(k, parsed.get(k))}" for k, _, _ in common.CATIME_MEASURES
                )
                log(f"catime round {rnd} {SIDE_NAMES[side]}: {summary or 'no result'}")
    finally:
        for srv in servers.values():
            if srv is not None:
                srv.stop()


# --------------------------------------------------------------------------- events

SAMPLE_RE = re.compile(r"CA Event Rate \(Hz\): current ([\d.eE+-]+) mean")


def samples_needed(secs):
    """How many samples after the 1 s warm-up (2 s, 4 s, 8 s...) cover `secs`."""
    k, covered = 0, 0.0
    while covered < secs:
        k += 1
        covered += 2.0**k
    return k, covered


def event_window(env, server, pv):
    """One caEventRate run: events/s over the samples after the warm-up, and the
    server's CPU share over the same span. Returns (rate, cpu) or an error text."""
    ev = env.epics("caEventRate")
    stdbuf = shutil.which("stdbuf")
    argv = ([stdbuf, "-oL"] if stdbuf else []) + [ev, pv, str(EVENT_SUBS)]
    k, covered = samples_needed(env.args.event_secs)
    stream = common.Stream(server.env, argv, merge_stderr=True)
    try:
        deadline = time.monotonic() + 30 + 1 + covered  # connect + warm-up + window
        t0 = cpu0 = None
        while time.monotonic() < deadline:
            text = stream.text_tail.decode(errors="replace")
            got = [float(x) for x in SAMPLE_RE.findall(text)]
            if t0 is None and len(got) >= 1:
                t0, cpu0 = time.monotonic(), server.cpu()
            if len(got) >= 1 + k:
                t1, cpu1 = time.monotonic(), server.cpu()
                window = got[1 : 1 + k]
                periods = [2.0**i for i in range(1, k + 1)]
                rate = sum(hz * p for hz, p in zip(window, periods)) / sum(periods)
                cpu = (cpu1 - cpu0) / (t1 - t0) if cpu0 is not None and cpu1 is not None else None
                return rate, cpu
            if stream.proc.poll() is not None:
                tail = text.strip().splitlines()[-1:] or [""]
                return f"caEventRate exited (rc {stream.proc.returncode}): {tail[0][:70]}"
            time.sleep(0.02)
        return "timed out"
    finally:
        stream.stop()


def event_rounds(env, results):
    if not env.epics("caEventRate"):
        raise RuntimeError(f"caEventRate not found under {env.epics_bin}")
    dbd, _, _, one_db = env.files
    servers = {}
    results.setdefault(EVENT_KEY, {s: [] for s in SIDES})
    results.setdefault("events_cpu", {s: [] for s in SIDES})
    try:
        servers["epics"] = common.start_softioc(env, "softioc-fast1", dbd, one_db)
        servers["ours"] = common.start_ours_ioc(env, "ticker", "--rate", "1000", *env.args.ioc_arg)
        if servers["ours"] is None:
            raise RuntimeError(f"caproto-ioc not found in {env.ours_bin} (build it, or see --ours-dir)")
        pvs = {"epics": "bench:fast0", "ours": "ticker:count"}
        for rnd, order in enumerate(orders(env.args.rounds), 1):
            for side in order:
                r = event_window(env, servers[side], pvs[side])
                if isinstance(r, str):
                    log(f"events round {rnd} {SIDE_NAMES[side]}: {r}")
                    r = (None, None)
                else:
                    cpu = f", server {r[1] * 100:.0f}% cpu" if r[1] is not None else ""
                    log(f"events round {rnd} {SIDE_NAMES[side]}: {common.fmt_rate(r[0], ' ev/s')}{cpu}")
                results[EVENT_KEY][side].append(r[0])
                results["events_cpu"][side].append(r[1])
                if servers[side].proc.poll() is not None:
                    raise RuntimeError(f"{SIDE_NAMES[side]} server exited during round {rnd}")
    finally:
        for srv in servers.values():
            if srv is not None:
                srv.stop()


# --------------------------------------------------------------------------- report

# (key, label, lower is better, counts toward the verdict)
ROWS = [(k, label, k == "latency", True) for k, label, _ in common.CATIME_MEASURES] + [
    ("cpu", "server CPU per catime run (info)", True, False),
    (EVENT_KEY, f"caEventRate, {EVENT_SUBS} subscriptions to a 1 kHz PV", False, True),
    ("events_cpu", "server CPU share during caEventRate (info)", True, False),
]


def fmt_value(key, v):
    if v is None:
        return "—"
    if key == "latency":
        return f"{v * 1e6:.1f} µs"
    if key == "cpu":
        return f"{v:.2f} s"
    if key == "events_cpu":
        return f"{v * 100:.0f}%"
    if key == EVENT_KEY:
        return common.fmt_rate(v, " ev/s")
    return common.fmt_rate(v)


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def row_ratio(results, key, lower_is_better):
    e, o = median(results[key]["epics"]), median(results[key]["ours"])
    if not e or not o:
        return None
    return e / o if lower_is_better else o / e


def paired_ratio(results, key, lower_is_better):
    """Median over rounds of each round's own ratio (its two runs were back
    to back): less moved by the machine drifting between rounds than the
    ratio of the medians, which stays the verdict."""
    pairs = [
        (e / o if lower_is_better else o / e)
        for e, o in zip(results[key]["epics"], results[key]["ours"])
        if e and o
    ]
    return statistics.median(pairs) if pairs else None


def report(args, header, results):
    base = SIDE_NAMES["epics"]
    lines = [
        f"## catime and caEventRate: {base} vs ours, alternating",
        "",
        header.rstrip(),
        f"- rounds: {args.rounds} ({base} first in odd rounds, ours first in even ones)",
    ]
    if "connect" in results:
        ours = " ".join(["caproto-ioc simple", *args.ioc_arg])
        lines.append(f"- catime: `catime {BASELINE_PV[args.baseline]} {args.count}` ({base}) / "
                     f"`catime {args.ours_pv} {args.count}` "
                     f"(`{ours}`); rates in operations/s, latency is catime's mean")
    if EVENT_KEY in results:
        k, covered = samples_needed(args.event_secs)
        lines.append(f"- events: `caEventRate PV {EVENT_SUBS}` against softIoc `bench:fast0` (calc, SCAN "
                     f".001 second) / `caproto-ioc ticker --rate 1000` `ticker:count`; each value is the "
                     f"mean over {covered:g} s after a 1 s warm-up sample")
    lines += [
        "",
        f"| measure | {base}, per round | ours, per round | {base} median | ours median | ours vs {base} "
        "| per-round ratio, median (info) |",
        "|---|---|---|---|---|---|---|",
    ]
    verdict, below, missing = [], [], []
    for key, label, lower, counts in ROWS:
        if key not in results:
            continue
        cells = []
        for side in SIDES:
            cells.append(", ".join(fmt_value(key, v) for v in results[key][side]))
        meds = [fmt_value(key, median(results[key][s])) for s in SIDES]
        r = row_ratio(results, key, lower)
        rtext = common.fmt_ratio(r) if r is not None else "—"
        if counts:
            if r is None:
                missing.append(label)
            elif r < 1.0:
                below.append(f"{label} {r:.3f}×")
            verdict.append(r)
        p = paired_ratio(results, key, lower)
        ptext = common.fmt_ratio(p) if p is not None else "—"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {meds[0]} | {meds[1]} | {rtext} | {ptext} |")
    lines.append("")
    lines.append(
        f"Ratios: ours / {base} for rates, {base} / ours for latency and CPU (above 1: ours is better); "
        "rows marked (info) are not part of the verdict."
    )
    lines.append("")
    if missing:
        ok = "**not known**"
        detail = "no ratio for: " + "; ".join(missing) + (("; below 1.0x: " + "; ".join(below)) if below else "")
    elif below:
        ok = "**no**"
        detail = "below 1.0x: " + "; ".join(below)
    else:
        ok = "**yes**"
        detail = f"lowest {min(verdict):.3f}×" if verdict else "no rows"
    lines.append(f"Every row >= 1.0x {base}: {ok} ({detail}).")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(common.ROOT, "target"), "release")
    ap.add_argument("--ours-dir", default=default_dir, help="folder with our binaries (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default %(default)s)")
    ap.add_argument("--count", type=int, default=10000, help="catime channels (default %(default)s)")
    ap.add_argument("--event-secs", type=float, default=5.0,
                    help="caEventRate window after its 1 s warm-up, s (default %(default)s; rounded up "
                    "to whole samples: 2, 6, 14... s)")
    ap.add_argument("--ioc-arg", action="append", default=[],
                    help="extra argument for caproto-ioc, repeatable (e.g. --ioc-arg=--circuit-threads=0)")
    ap.add_argument("--ours-pv", default="simple:B",
                    help="PV of ours that catime uses (default %(default)s); with --ioc-arg=-d "
                         "--ioc-arg=FILE, a record of that database (e.g. bench:ai)")
    ap.add_argument("--only", choices=("catime", "events"), help="run one of the two parts")
    ap.add_argument("--baseline", choices=("softioc", "simple"), default="softioc",
                    help="what ours is compared with (default %(default)s); simple: `caproto-ioc "
                         "simple`'s simple:B from the same build, catime only")
    ap.add_argument("--no-build", action="store_true", help="do not run cargo build --release --bins")
    ap.add_argument("--timeout", type=float, default=120.0, help="limit per catime run, s (default %(default)s)")
    ap.add_argument("--out", help="also write the markdown report to this file")
    args = ap.parse_args()
    if args.rounds < 1 or args.count < 1 or args.event_secs <= 0:
        ap.error("--rounds, --count and --event-secs must be positive")
    if args.baseline == "simple":
        if args.only != "catime":
            ap.error("--baseline simple needs --only catime (caEventRate runs against softIoc)")
        SIDE_NAMES["epics"] = "caproto-ioc simple"

    env = common.Env(args)
    if not args.no_build:
        common.build_ours(env)
    if not env.epics("softIoc"):
        sys.exit(f"softIoc not found under {env.epics_bin}: run scripts/install-peers.sh "
                 "(and export CAPROTO_PEERS_DIR / source its env.sh)")
    env.files = common.write_softioc_files(env)
    load_start = loadavg()
    header = common.machine_header(env.ours_bin)
    log("run:\n" + header)
    repeater = common.start_repeater(env)
    results = {}
    t_start = time.monotonic()
    try:
        if args.only in (None, "catime"):
            try:
                catime_rounds(env, results)
            except RuntimeError as e:
                log(f"catime part failed: {e}")
        if args.only in (None, "events"):
            try:
                event_rounds(env, results)
            except RuntimeError as e:
                log(f"events part failed: {e}")
    finally:
        if repeater:
            common.stop(repeater)
    header += f"- /proc/loadavg at start: `{load_start}`; at end: `{loadavg()}`\n"
    header += f"- total time: {time.monotonic() - t_start:.0f} s\n"
    text = report(args, header, results)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
