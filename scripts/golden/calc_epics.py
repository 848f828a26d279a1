#!/usr/bin/env python3
"""Write tests/golden/calc_epics.json: what EPICS base's softIoc makes of
CALC expressions, the reference for caproto-rs's calc engine (proto::calc).

Each expression of CASES becomes a calc record (A=2, B=3, VAL=7, PINI=YES)
of one softIoc; `caget -g 17 -t` reads the values. Each of REFUSED is loaded
alone and must be refused; the message softIoc prints is recorded.

Needs softIoc and caget on PATH with their libraries, e.g.
    LD_LIBRARY_PATH=$EPICS_PEER_ROOT/usr/lib PATH=$EPICS_PEER_BIN:$PATH \\
        python3 scripts/golden/calc_epics.py
Everything stays on 127.0.0.1 with a private port; the softIoc started here
is stopped by its own handle.
"""
import json
import os
import pathlib
import re
import socket
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "calc_epics.json"

CASES = [
    "-2**2", "2**3**2", "2^3^2", "ISINF(-INF)", "ISINF(INF)", "ATAN2(1,0)", "ATAN2(0,1)",
    "FMOD(7,3)", "7%-3", "-7%3", "NINT(-2.5)", "NINT(2.5)", "~0", "1<<33", "-1>>>28",
    "-1>>28", "0xFFFFFFFF", "SIN A+1", "-A**B", "!A&&B", "MAX(1,NAN,3)", "MIN(A,B,0)",
    "A?B:VAL", "0?1:0?2:3", "A:=5;A*B", "1+A?2:3*4", "NOT 5", "5 AND 3 OR 8", "5 XOR 1",
    "NINT(3e9)", "3e9|0", "-3e9|0", "1/0", "-1/0", "0/0", "SQR(16)", "LOGE(1)",
    "LN(EXP(1))", "LOG(1000)", "ABS(-3)+CEIL(1.2)+FLOOR(1.8)", "FINITE(1,INF)",
    "ISNAN(1,NAN)", "1=1", "2#3", "1!=1", "4>=4&&3<=2", "R2D*PI", "D2R*180", "0x10+.5",
    "5%0", "ISNAN(5%0)", "ISINF(-1/0)", "2*3**2", "1+2*3-4/2", "1+2>2", "1||0&&0",
    "6&3<<1", "0&&0||1", "(1?2):3", "(0?2):3", "NINT(1?2):3", "NINT(0?2):3", "1+(1?2):3",
]
REFUSED = [
    "3e", "AB", "(1,2)", "MAX()", "A?B", "1+", ")", "A:=B:=1", "FMOD B-A", "ATAN2 A+1",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(i, expr):
    expr = expr.replace('"', '\\"')
    return (f'record(calc, "cc:{i}") {{ field(CALC, "{expr}") field(PINI, "YES") '
            f'field(A, "2") field(B, "3") field(VAL, "7") }}\n')


def main():
    port = free_port()
    env = dict(os.environ, EPICS_CA_AUTO_ADDR_LIST="NO", EPICS_CA_ADDR_LIST="127.0.0.1",
               EPICS_CAS_INTF_ADDR_LIST="127.0.0.1", EPICS_CAS_AUTO_BEACON_ADDR_LIST="NO",
               EPICS_CAS_BEACON_ADDR_LIST="127.0.0.1", EPICS_CA_SERVER_PORT=str(port),
               EPICS_CAS_SERVER_PORT=str(port))
    env.pop("EPICS_CA_NAME_SERVERS", None)
    # The EPICS tools spawn a caRepeater, which outlives them, on the default
    # port and every interface unless one already listens. Hold a port on
    # loopback for it instead: nothing is left running afterwards.
    repeater = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    repeater.bind(("127.0.0.1", 0))
    env["EPICS_CA_REPEATER_PORT"] = str(repeater.getsockname()[1])
    with tempfile.TemporaryDirectory() as tmp:
        db = pathlib.Path(tmp) / "calc.db"
        db.write_text("".join(record(i, e) for i, e in enumerate(CASES)))
        ioc = subprocess.Popen(["softIoc", "-S", "-d", str(db)], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            # caget waits (-w) for the channels to connect: no sleep needed.
            out = subprocess.run(["caget", "-w", "10", "-g", "17", "-t"]
                                 + [f"cc:{i}" for i in range(len(CASES))],
                                 env=env, capture_output=True, text=True, check=True)
        finally:
            ioc.kill()
            ioc.wait()
        values = out.stdout.split("\n")[:len(CASES)]
        cases = [{"calc": e, "value": v.strip()} for e, v in zip(CASES, values)]
        refused = []
        for expr in REFUSED:
            db.write_text(record(0, expr))
            run = subprocess.run(["softIoc", "-S", "-d", str(db)], env=env,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=30)
            text = run.stdout + run.stderr
            m = re.search(r"^(.*) in CALC expression '", text, re.M)
            if not m or "failed to load" not in text:
                raise SystemExit(f"softIoc did not refuse {expr!r}:\n{text}")
            refused.append({"calc": expr, "message": m.group(1)})
    doc = {
        "source": "EPICS base 7.0.8.1 softIoc: one calc record per expression with A=2, B=3, "
                  "VAL=7, PINI=YES, read with caget -g 17 -t; refusals as softIoc printed them "
                  "when loading the record",
        "cases": cases,
        "refused": refused,
    }
    OUT.write_text(json.dumps(doc, indent=1))
    print(f"{OUT}: {len(cases)} values, {len(refused)} refusals")


if __name__ == "__main__":
    main()
