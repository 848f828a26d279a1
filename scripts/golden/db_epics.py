#!/usr/bin/env python3
"""Write tests/golden/db_epics.json: which database (.db) texts EPICS base's
softIoc loads and which it refuses, with the line it names, the reference
for caproto-rs's .db reader (server::db).

Each case is loaded alone (`softIoc [-m MACROS] -d x.db`, stdin closed). "layer" says
which part of ours must refuse it: "parse" (the grammar and macros, which
server::db checks) or "records" (field names and values, which belong to
the record types).

Needs softIoc on PATH with its libraries, e.g.
    LD_LIBRARY_PATH=$EPICS_PEER_ROOT/usr/lib PATH=$EPICS_PEER_BIN:$PATH \\
        python3 scripts/golden/db_epics.py
softIoc runs on 127.0.0.1 with a private port and is stopped by its handle.
"""
import json
import os
import pathlib
import re
import socket
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "db_epics.json"

CASES = [
    ("plain", "parse", "", 'record(ai, "a") {\n field(DESC, "x")\n field(EGU, mm)\n}\n'),
    ("grecord_alias_info", "parse", "",
     'grecord(ai, b) { field(EGU, mm) alias(b2) info(k, "v") }\nalias("b", "b3")\n'),
    ("comments_escapes", "parse", "",
     '# comment\nrecord(stringin, "s") { # trailing\n field(VAL, "q\\"x\\\\y")\n}\n'),
    ("macros", "parse", "P=pre:,D=hello",
     'record(ai, "$(P)a") {\n field(DESC, "${D}")\n field(EGU, "$(E=mm)")\n}\n'),
    ("undefined_macro_in_name", "parse", "", 'record(ai, "$(P)a") {\n field(DESC, "x")\n}\n'),
    ("undefined_macro_in_field", "parse", "P=x",
     'record(stringin, "$(P)a") {\n field(VAL, "$(D)")\n}\n'),
    ("missing_paren", "parse", "", 'record(ai, "a") {\n field(DESC, "x"\n}\n'),
    ("unterminated_string", "parse", "", 'record(ai, "a") {\n field(DESC, "x)\n}\n'),
    ("redefined_type", "parse", "", 'record(ai, "a")\nrecord(ao, "a")\n'),
    ("merged_same_type", "parse", "",
     'record(ai, "a") { field(EGU, mm) }\nrecord(ai, "a") { field(EGU, cm) }\n'),
    ("missing_include", "parse", "", '\ninclude "missing.db"\n'),
    ("stray_word", "parse", "", 'record(ai, "a")\nbogus\n'),
    ("unknown_field", "records", "", 'record(ai, "a") {\n field(NOPE, "x")\n}\n'),
    ("unknown_type", "records", "", 'record(nope, "a") {\n}\n'),
    ("bad_value", "records", "", 'record(ai, "a") {\n field(VAL, "abc")\n}\n'),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        db = pathlib.Path(tmp) / "x.db"
        for name, layer, macros, text in CASES:
            db.write_text(text)
            args = ["softIoc"] + (["-m", macros] if macros else []) + ["-d", "x.db"]
            # softIoc exits after a failed load; after a good one its shell
            # reads the closed stdin and exits too.
            run = subprocess.run(args, env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=30)
            log = run.stdout + run.stderr
            loaded = "iocRun: All initialization complete" in log
            m = re.search(r'file "x\.db" line (\d+)', log)
            case = {"name": name, "layer": layer, "macros": macros, "text": text,
                    "loaded": loaded}
            if not loaded:
                if not m:
                    raise SystemExit(f"{name}: refused without a line:\n{log}")
                case["line"] = int(m.group(1))
            out.append(case)
    OUT.write_text(json.dumps({
        "source": "EPICS base 7.0.8.1 softIoc [-m MACROS] -d x.db, one case at a time: "
                  "loaded, or refused at the line softIoc names",
        "cases": out}, indent=1))
    print(f"{OUT}: {len(out)} cases")


if __name__ == "__main__":
    main()
