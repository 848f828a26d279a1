#!/usr/bin/env python3
"""Seed the fuzz corpus (fuzz/corpus/<target>/golden_*) from the golden
captures of real peer traffic: tests/golden/commands_epics.json (EPICS base
7.0.8.1 on the wire), commands.json (caproto 1.3.0's encoder) and dbr.json
(caproto's DBR payloads). Deterministic; plain python3, no peers needed.

    python3 scripts/golden/seed_fuzz_corpus.py

Input layouts are those of fuzz/src/targets.rs and fuzz/src/peer_targets.rs:
command_decode takes raw bytes; dbr_decode a type byte, a u32 BE count and a
payload; circuit_server/circuit_client a control byte (chunk size; for the
server, 0x80 takes reads and writes through its fast path) and a TCP byte stream; broadcaster a control byte and u16-BE-length-prefixed datagrams;
capture_decode a control byte (high nibble: link type, low: chunk size), a
format byte (0/1 legacy pcap little/big-endian, 2/3 pcapng little/big-endian:
the target writes the file around the records) and little-endian pcap records,
which are built here around the EPICS messages (IPv4 over raw IP and over
Ethernet, one TCP segment or UDP datagram each);
calc the text of an expression (from calc_epics.json, values read from softIoc);
db_parse the text of a .db file (from db_epics.json, loaded or refused by softIoc).
"""
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
CORPUS = ROOT / "fuzz" / "corpus"


def load(name):
    return json.loads((GOLDEN / name).read_text())


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"golden_{name}").write_bytes(bytes(data))


def frames(datagrams):
    out = b""
    for d in datagrams:
        out += struct.pack(">H", len(d)) + d
    return out


CLIENT = (bytes([127, 0, 0, 1]), 40000)
SERVER = (bytes([127, 0, 0, 1]), 5064)


def ipv4(proto, src, dst, l4):
    total = 20 + len(l4)
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, proto, 0, src, dst)
    return header + l4


def tcp_packet(src, dst, seq, ack, payload):
    tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq, ack, 0x50, 0x18, 65535, 0, 0)
    return ipv4(6, src[0], dst[0], tcp + payload)


def udp_packet(src, dst, payload):
    udp = struct.pack(">HHHH", src[1], dst[1], 8 + len(payload), 0)
    return ipv4(17, src[0], dst[0], udp + payload)


def pcap_records(packets, ethernet):
    out = b""
    for i, pkt in enumerate(packets):
        if ethernet:
            pkt = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + struct.pack(">H", 0x0800) + pkt
        out += struct.pack("<IIII", 1_700_000_000 + i, 0, len(pkt), len(pkt)) + pkt
    return out


def capture_packets(tcp, udp):
    """The EPICS session as packets: each TCP message its own segment, in
    capture order, with running sequence numbers; each UDP message a datagram."""
    packets = []
    seq = {"request": 1000, "response": 5000}
    for m in udp:
        data = bytes.fromhex(m["hex"])
        if m["direction"] == "request":
            packets.append(udp_packet(CLIENT, SERVER, data))
        else:
            packets.append(udp_packet(SERVER, CLIENT, data))
    for m in tcp:
        data = bytes.fromhex(m["hex"])
        if m["direction"] == "request":
            packets.append(tcp_packet(CLIENT, SERVER, seq["request"], seq["response"], data))
        else:
            packets.append(tcp_packet(SERVER, CLIENT, seq["response"], seq["request"], data))
        seq[m["direction"]] += len(data)
    return packets


def main():
    epics = load("commands_epics.json")
    caproto = load("commands.json")
    count = {}

    def put(target, name, data):
        write(target, name, data)
        count[target] = count.get(target, 0) + 1

    for m in epics + caproto:
        put("command_decode", m["label"], bytes.fromhex(m["hex"]))
    tcp = [m for m in epics if m["label"].startswith("epics-tcp-")]
    udp = [m for m in epics if m["label"].startswith("epics-udp-")]
    req = b"".join(bytes.fromhex(m["hex"]) for m in tcp if m["direction"] == "request")
    resp = b"".join(bytes.fromhex(m["hex"]) for m in tcp if m["direction"] == "response")
    put("command_decode", "epics_tcp_requests", req)
    put("command_decode", "epics_tcp_responses", resp)
    # Whole TCP conversations, in one piece, in 7-byte and 1-byte chunks.
    for tag, ctl in (("whole", 0), ("chunks7", 7), ("chunks1", 1)):
        put("circuit_server", f"epics_tcp_{tag}", bytes([ctl]) + req)
        put("circuit_client", f"epics_tcp_{tag}", bytes([ctl]) + resp)
        # Control bit 0x80: reads and writes through the server's fast path
        # (next_io_request / reply_io), as our server takes them.
        put("circuit_server", f"epics_tcp_{tag}_fast", bytes([ctl | 0x80]) + req)
    # caproto's responses after EPICS's handshake replies: every command a
    # server can send, on a circuit with channels.
    cap_resp = b"".join(
        bytes.fromhex(m["hex"]) for m in caproto
        if m["direction"] == "response" and m["name"] not in ("Beacon", "SearchResponse",
                                                                "NotFoundResponse",
                                                                "RepeaterConfirmResponse")
    )
    put("circuit_client", "caproto_responses", bytes([0x40]) + resp + cap_resp)
    cap_req = b"".join(
        bytes.fromhex(m["hex"]) for m in caproto
        if m["direction"] == "request" and m["name"] not in ("SearchRequest",
                                                               "RepeaterRegisterRequest")
    )
    put("circuit_server", "caproto_requests", bytes([0]) + req + cap_req)
    put("circuit_server", "caproto_requests_fast", bytes([0x80]) + req + cap_req)
    # UDP: each EPICS message alone, EPICS's search datagram shape (VERSION +
    # SEARCHes), its replies, and caproto's UDP commands.
    singles = [bytes.fromhex(m["hex"]) for m in udp]
    put("broadcaster", "epics_udp_singles", bytes([0]) + frames(singles))
    searches = b"".join(bytes.fromhex(m["hex"]) for m in udp if m["direction"] == "request")
    replies = b"".join(bytes.fromhex(m["hex"]) for m in udp if m["direction"] == "response")
    put("broadcaster", "epics_udp_datagrams", bytes([0x03]) + frames([searches, replies]))
    cap_udp = [
        bytes.fromhex(m["hex"]) for m in caproto
        if m["name"] in ("VersionRequest", "VersionResponse", "SearchRequest", "SearchResponse",
                         "NotFoundResponse", "Beacon", "RepeaterRegisterRequest",
                         "RepeaterConfirmResponse")
    ]
    put("broadcaster", "caproto_udp", bytes([0x01]) + frames(cap_udp))
    put("broadcaster", "caproto_udp_same_port", bytes([0x11]) + frames(cap_udp + [b""]))
    # Captures: the EPICS session as raw-IP (link index 4) and Ethernet
    # (index 0) pcap records, whole and fed in 8-byte chunks.
    packets = capture_packets(tcp, udp)
    put("capture_decode", "epics_rawip_whole", bytes([0x40, 0]) + pcap_records(packets, False))
    put("capture_decode", "epics_ethernet_whole", bytes([0x00, 0]) + pcap_records(packets, True))
    put("capture_decode", "epics_ethernet_chunks8", bytes([0x02, 0]) + pcap_records(packets, True))
    for fmt, tag in ((1, "pcap_be"), (2, "pcapng"), (3, "pcapng_be")):
        put("capture_decode", f"epics_ethernet_{tag}_whole",
            bytes([0x00, fmt]) + pcap_records(packets, True))
        put("capture_decode", f"epics_rawip_{tag}_chunks8",
            bytes([0x42, fmt]) + pcap_records(packets, False))
    # CALC expressions whose values (or refusals) were read from softIoc.
    calc = load("calc_epics.json")
    for i, case in enumerate(calc["cases"] + calc["refused"]):
        put("calc", f"softioc_{i:02}", case["calc"].encode())
    # .db texts softIoc loaded or refused.
    for case in load("db_epics.json")["cases"]:
        put("db_parse", f"softioc_{case['name']}", case["text"].encode())
    # DBR payloads as caproto encodes them, for every type.
    for case in load("dbr.json")["cases"]:
        name = case["name"].replace("/", "_")
        data = bytes([case["type"]]) + struct.pack(">I", case["count"]) + bytes.fromhex(case["hex"])
        put("dbr_decode", name, data)
    for target, n in sorted(count.items()):
        print(f"{target}: {n} golden seeds")


if __name__ == "__main__":
    main()
