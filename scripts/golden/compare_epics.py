#!/usr/bin/env python3
"""Compare two EPICS captures (commands_epics.json schema) up to what varies
between runs: ports, beacon ids, search sequence numbers, time stamps in
DBR_TIME payloads, and the labels' numbering and order. Every (command,
direction) pair must occur in both, and every message whose fields hold
none of the varying values must occur byte for byte in both.

    compare_epics.py COMMITTED FRESH     # exit 1 with the differences
"""
import json
import sys

VARYING = {"server_port", "port", "beacon_id", "sequence"}
TIME_TYPES = range(14, 21)  # DBR_TIME_*: payload carries a time stamp


def keys(path):
    kinds, exact = set(), set()
    for m in json.load(open(path)):
        kinds.add((m["name"], m["direction"]))
        f = m["fields"]
        if VARYING & set(f) or ("data" in f and f.get("data_type") in TIME_TYPES):
            continue
        exact.add((m["name"], m["direction"], m["hex"]))
    return kinds, exact


def main():
    committed, fresh = sys.argv[1], sys.argv[2]
    (k1, e1), (k2, e2) = keys(committed), keys(fresh)
    bad = False
    for what, a, b in (("commands", k1, k2), ("exact messages", e1, e2)):
        for item in sorted(a - b):
            print(f"compare_epics: in {committed} only ({what}): {item}", file=sys.stderr)
            bad = True
        for item in sorted(b - a):
            print(f"compare_epics: in the fresh capture only ({what}): {item}", file=sys.stderr)
            bad = True
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
