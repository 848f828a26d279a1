#!/usr/bin/env python3
"""Generate tests/golden/dbr.json: DBR payloads as caproto 1.3.0 encodes them.

For every one of the 39 DBR types, a scalar, an array and an empty array are
encoded with caproto's own ctypes DBR structures (metadata) and its
`data_payload` (values), so the bytes come from an independent implementation.
Each case records the type, count, values, the metadata fields the type
carries (taken from the ctypes structure's own field list) and the bytes.

Run with the caproto venv:  /work/peers/venv/bin/python scripts/golden/gen_dbr.py
Deviation: caproto maps CTRL_STRING to the TIME_STRING layout; EPICS
db_access.h defines dbr_gr_string and dbr_ctrl_string as dbr_sts_string, so
both are generated here with caproto's DBR_STS_STRING structure.
"""

import ctypes
import json
import pathlib
import struct

import caproto
from caproto import ChannelType
from caproto import _dbr as dbr
from caproto._commands import data_payload

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "golden" / "dbr.json"

NATIVE_NAMES = ["STRING", "INT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE"]

# Values per native type: (scalar, array). Floats are exactly representable.
VALUES = {
    "STRING": (["hello"], ["", "a", "x" * 39, "with space"]),
    "INT": ([-1234], [1, -2, 32767, -32768]),
    "FLOAT": ([1.5], [0.25, -3.0, 1024.5, 3.4028234663852886e38]),
    "ENUM": ([1], [0, 1, 2]),
    "CHAR": ([65], [0, 127, 128, 255]),
    "LONG": ([123456], [-2147483648, 2147483647, 0]),
    "DOUBLE": ([3.14159], [1e300, -2.5, 0.1, -0.0]),
}

STAMP = (1_000_000_000, 123_456_789)
LIMITS = {  # upper_disp, lower_disp, upper_alarm, upper_warning, lower_warning, lower_alarm, upper_ctrl, lower_ctrl
    "signed": [100, -100, 90, 80, -80, -90, 95, -95],
    "CHAR": [200, 10, 190, 180, 20, 15, 195, 5],
    "real": [100.5, -100.5, 90.25, 80.0, -80.0, -90.25, 95.75, -95.75],
}
LIMIT_NAMES = [
    "upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
    "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit",
    "upper_ctrl_limit", "lower_ctrl_limit",
]
ENUM_SETS = [["Off", "On", "Fault"], [f"state {i:02d}" + "." * (i + 2) for i in range(15)] + ["y" * 25]]


def structure_for(code):
    """caproto's ctypes structure for a DBR type code (STS for GR/CTRL STRING)."""
    if code in (ChannelType.GR_STRING, ChannelType.CTRL_STRING):
        return dbr.DBR_STS_STRING
    return dbr.DBR_TYPES[ChannelType(code)]


def field_names(cls):
    return [f[0] for f in cls._fields_]


def limits_for(native):
    if native == "CHAR":
        return LIMITS["CHAR"]
    if native in ("FLOAT", "DOUBLE"):
        return LIMITS["real"]
    return LIMITS["signed"]


def fill_metadata(cls, native, enum_strings):
    """Instance of `cls` with every carried metadata field set, and the
    JSON description of those fields."""
    md = cls()
    names = field_names(cls)
    meta = {}
    if "status" in names:
        md.status, md.severity = 3, 2  # HIHI, MAJOR
        meta["status"], meta["severity"] = 3, 2
    if "stamp" in names:
        md.stamp.secondsSinceEpoch, md.stamp.nanoSeconds = STAMP
        meta["secs"], meta["nanos"] = STAMP
    if "precision" in names:
        md.precision = 4
        meta["precision"] = 4
    if "units" in names:
        md.units = b"mm"
        meta["units"] = "mm"
    for name, v in zip(LIMIT_NAMES, limits_for(native)):
        if name in names:
            setattr(md, name, bytes([v]) if native == "CHAR" else v)
            meta[name] = v
    if "no_str" in names:
        md.enum_strings = [s.encode() for s in enum_strings]
        meta["enum_strings"] = list(enum_strings)
    if "ackt" in names:
        md.ackt, md.acks = 1, 2
        meta["ackt"], meta["acks"] = 1, 2
    return md, meta


def header_bytes(md):
    """The metadata part of a structure: everything before a `value` field."""
    raw = bytes(md)
    names = field_names(type(md))
    if "value" in names:
        return raw[: getattr(type(md), "value").offset]
    return raw


def wire_values(native, values):
    if native == "STRING":
        return [v.encode() for v in values]
    return values


def case(code, native, label, values, enum_strings=ENUM_SETS[0]):
    cls = structure_for(code)
    md, meta = fill_metadata(cls, native, enum_strings)
    if code < 7:
        md_bytes = b""
        meta = {}
    else:
        md_bytes = header_bytes(md)
    data_type = ChannelType(code)
    if code >= 35:
        # Special types: caproto's structure holds the value; arrays append.
        data = b"".join(
            struct.pack(">H", v) if native == "INT" else v.encode().ljust(40, b"\0")
            for v in values
        )
    else:
        _, _md, data, *_pad = data_payload(wire_values(native, values), md_bytes, data_type, len(values))
        data = bytes(data)
    payload = md_bytes + data
    # Sanity: the header is the whole structure, or the structure minus its value.
    elem = {"STRING": 40, "INT": 2, "FLOAT": 4, "ENUM": 2, "CHAR": 1, "LONG": 4, "DOUBLE": 8}[native]
    assert ctypes.sizeof(cls) in (len(md_bytes), len(md_bytes) + elem), data_type
    assert len(data) == elem * len(values), data_type
    return {
        "name": f"{name_of(code)}/{label}",
        "type": code,
        "count": len(values),
        "native": native,
        "value": values,
        "meta": meta,
        "hex": payload.hex(),
    }


def name_of(code):
    return ChannelType(code).name


def main():
    cases = []
    for code in range(35):
        native = NATIVE_NAMES[code % 7]
        scalar, array = VALUES[native]
        cases.append(case(code, native, "scalar", scalar))
        cases.append(case(code, native, "array", array))
        cases.append(case(code, native, "empty", []))
        if native == "ENUM" and code >= 21:
            cases.append(case(code, native, "16 states", [15], ENUM_SETS[1]))
            cases.append(case(code, native, "no states", [0], []))
    cases.append(case(35, "INT", "scalar", [1]))
    cases.append(case(36, "INT", "scalar", [2]))
    cases.append(case(37, "STRING", "scalar", ["alarm text"]))
    cases.append(case(37, "STRING", "array", ["one", "two"]))
    cases.append(case(38, "STRING", "scalar", ["ai"]))
    doc = {
        "generator": f"scripts/golden/gen_dbr.py with caproto {caproto.__version__}",
        "note": "GR_STRING and CTRL_STRING use the STS_STRING layout of db_access.h "
                "(caproto itself sends CTRL_STRING as TIME_STRING).",
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
