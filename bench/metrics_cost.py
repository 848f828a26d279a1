#!/usr/bin/env python3
"""What counting costs the server: EPICS `catime` against `caproto-ioc simple`
with metrics off, and with `--metrics` and `--stats` on while a scraper reads
/metrics every second (as Prometheus would), alternately, in one run (issue 26:
the async get must stay within 3%).

Usage:
    bench/metrics_cost.py [--rounds N] [--count N] [--no-build] [--ours-dir DIR]
                          [--off-dir DIR] [--out FILE]

Both servers run at once, each on its own port; `catime simple:B COUNT` runs
against one then the other, N rounds, the order swapped every round so that
drift of the machine's load hits both alike. The report gives each catime row
per round, the medians and on / off. The server counts in both cases (the
counters are always there; --metrics only serves them): "off" is what a
server that is never scraped pays, "on" adds the HTTP endpoint, the scrapes
and the stats PVs' updates. To measure the counting itself, give --off-dir a
folder with a caproto-ioc built from a commit without metrics: "off" then
runs that binary. Numbers from a loaded machine are noisy: compare
ratios from the same run only (/proc/loadavg is recorded at start and end).

Reuses bench/run.py's process handling: loopback-only environment, free ports,
its own caRepeater, every process stopped by pid. Stdlib only.
"""

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
import run as common  # noqa: E402

SIDES = ("off", "on")


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return "?"


def scraper(url, stop, counts):
    """GET url every second until stop is set; counts successful scrapes."""
    while not stop.wait(1.0):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
            counts[0] += 1
        except OSError as e:
            common.log(f"scrape failed: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(common.ROOT, "target"), "release")
    ap.add_argument("--ours-dir", default=default_dir, help="folder with our binaries (default %(default)s)")
    ap.add_argument("--off-dir", help="folder with the caproto-ioc of the 'off' side (default: --ours-dir)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default %(default)s)")
    ap.add_argument("--count", type=int, default=10000, help="catime channels (default %(default)s)")
    ap.add_argument("--no-build", action="store_true", help="do not run cargo build --release --bins")
    ap.add_argument("--timeout", type=float, default=120.0, help="limit per catime run, s (default %(default)s)")
    ap.add_argument("--out", help="also write the markdown report to this file")
    args = ap.parse_args()
    env = common.Env(args)
    if not args.no_build:
        common.build_ours(env)
    catime = env.epics("catime")
    if not catime:
        sys.exit(f"catime not found under {env.epics_bin}: run scripts/install-peers.sh")
    load_start = loadavg()
    header = common.machine_header(env.ours_bin)
    repeater = common.start_repeater(env)
    metrics_port = common.free_port()
    servers, stop, scrapes = {}, threading.Event(), [0]
    keys = [k for k, _, _ in common.CATIME_MEASURES]
    results = {k: {s: [] for s in SIDES} for k in keys}
    try:
        ours_bin = env.ours_bin
        env.ours_bin = args.off_dir or ours_bin
        servers["off"] = common.start_ours_ioc(env, "simple")
        env.ours_bin = ours_bin
        servers["on"] = common.start_ours_ioc(
            env, "simple", "--metrics", f"127.0.0.1:{metrics_port}", "--stats", "BENCH"
        )
        if servers["off"] is None or servers["on"] is None:
            sys.exit(f"caproto-ioc not found in {env.ours_bin}")
        t = threading.Thread(
            target=scraper, args=(f"http://127.0.0.1:{metrics_port}/metrics", stop, scrapes), daemon=True
        )
        t.start()
        for rnd in range(args.rounds):
            order = SIDES if rnd % 2 == 0 else SIDES[::-1]
            for side in order:
                srv = servers[side]
                r = common.run_once([catime, "simple:B", str(args.count)], srv.env, args.timeout,
                                    capture=True, tmpdir=env.tmp)
                parsed = common.parse_catime(r.out) if r.ok else {}
                for k in keys:
                    results[k][side].append(parsed.get(k))
                got = parsed.get("DBR_DOUBLE/async get")
                common.log(f"round {rnd + 1} metrics {side}: async get {common.fmt_rate(got)}")
    finally:
        stop.set()
        for srv in servers.values():
            if srv is not None:
                srv.stop()
        if repeater:
            common.stop(repeater)

    def med(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def fmt(k, v):
        if v is None:
            return "—"
        return f"{v * 1e6:.1f} µs" if k == "latency" else common.fmt_rate(v)

    lines = [
        "## catime against caproto-ioc: metrics off vs on, alternating",
        "",
        header.rstrip(),
        f"- off: {os.path.join(args.off_dir or env.ours_bin, 'caproto-ioc')}; "
        f"on: {os.path.join(env.ours_bin, 'caproto-ioc')} --metrics --stats",
        f"- rounds: {args.rounds}; `catime simple:B {args.count}`; scrapes of /metrics during the run: {scrapes[0]}",
        f"- /proc/loadavg at start: `{load_start}`; at end: `{loadavg()}`",
        "",
        "| measure | off, per round | on, per round | off median | on median | on / off |",
        "|---|---|---|---|---|---|",
    ]
    for k, label, _ in common.CATIME_MEASURES:
        off, on = med(results[k]["off"]), med(results[k]["on"])
        if off and on:
            ratio = off / on if k == "latency" else on / off
            rtext = f"{ratio:.3f}"
        else:
            rtext = "—"
        cells = [", ".join(fmt(k, v) for v in results[k][s]) for s in SIDES]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {fmt(k, off)} | {fmt(k, on)} | {rtext} |")
    lines += ["", "on / off: above 1 means metrics on was faster (latency: off / on)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
