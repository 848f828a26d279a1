#!/usr/bin/env bash
# Seeds the capture_decode fuzz target from real captures: tcpdump records a
# short Channel Access session on loopback (our caproto-ioc, caproto-get,
# caproto-put and caproto-monitor), and dpkt (caproto's venv, an independent
# pcapng writer) rewrites that capture as pcapng, little- and big-endian. The
# files land in fuzz/corpus/capture_decode/real_* with the target's two control
# bytes in front (chunking, and format 4: "the rest is a whole capture file").
#
#   export CAPROTO_PEERS_DIR=/work/peers; source /work/peers/env.sh
#   scripts/golden/capture_fuzz_seeds.sh       # needs root (tcpdump) and a built target/debug
#
# Loopback only; every process it starts is stopped by its pid.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/loopback.sh
source scripts/loopback.sh
PY="${CAPROTO_PEER_BIN:?source the peers env.sh first}/python"
BIN="$ROOT/target/debug"
OUT="$ROOT/fuzz/corpus/capture_decode"
WORK="$(mktemp -d)"
PORT="${SEED_PORT:-27411}"
export EPICS_CA_AUTO_ADDR_LIST=NO EPICS_CA_ADDR_LIST=127.0.0.1 EPICS_CAS_INTF_ADDR_LIST=127.0.0.1 \
    EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO EPICS_CAS_BEACON_ADDR_LIST=127.0.0.1 \
    EPICS_CA_SERVER_PORT="$PORT" EPICS_CA_REPEATER_PORT="$((PORT + 1))"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

tcpdump -i lo --immediate-mode -U -s 0 -w "$WORK/session.pcap" "port $PORT" 2>"$WORK/tcpdump.log" &
pids+=($!)
until grep -q "listening on" "$WORK/tcpdump.log"; do sleep 0.05; done
"$BIN/caproto-ioc" simple --prefix seed: >"$WORK/ioc.log" 2>&1 &
pids+=($!)
until "$BIN/caproto-get" --no-repeater -w 1 seed:A >/dev/null 2>&1; do sleep 0.1; done
"$BIN/caproto-get" --no-repeater seed:A seed:B seed:C >/dev/null
"$BIN/caproto-put" --no-repeater -c seed:B 42 >/dev/null
"$BIN/caproto-monitor" --no-repeater --maximum 2 seed:A seed:B >/dev/null
kill "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true
# Let tcpdump write out the server's last packets: stop it once the capture stops growing.
prev=-1
while [[ "$(stat -c %s "$WORK/session.pcap")" != "$prev" ]]; do
    prev="$(stat -c %s "$WORK/session.pcap")"
    sleep 0.2
done
kill -INT "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true

"$PY" - "$WORK/session.pcap" "$OUT" <<'EOF'
import sys
from dpkt import pcap, pcapng

src, out = sys.argv[1], sys.argv[2]
packets = list(pcap.Reader(open(src, "rb")))
assert len(packets) > 20, f"only {len(packets)} packets captured"
raw = open(src, "rb").read()
files = {"pcap": raw}
# Little-endian through dpkt's writer (it writes this machine's byte order); big-endian
# from dpkt's big-endian block classes, serialised one block after the other.
path = f"{src}.pcapng"
with open(path, "wb") as f:
    w = pcapng.Writer(f, snaplen=262144, linktype=1)
    for ts, buf in packets:
        w.writepkt(buf, ts=ts)
files["pcapng"] = open(path, "rb").read()
be = bytes(pcapng.SectionHeaderBlock()) + bytes(
    pcapng.InterfaceDescriptionBlock(linktype=1, snaplen=262144))
for ts, buf in packets:
    micros = round(ts * 1e6)
    be += bytes(pcapng.EnhancedPacketBlock(
        pkt_data=buf, pkt_len=len(buf), ts_high=micros >> 32, ts_low=micros & 0xFFFFFFFF))
assert be[8:12] == b"\x1a\x2b\x3c\x4d", "big-endian byte-order magic"
files["pcapng_be"] = be
for name, data in files.items():
    for tag, ctl in (("whole", 0x00), ("chunks8", 0x02)):
        with open(f"{out}/real_{name}_{tag}", "wb") as f:
            f.write(bytes([ctl, 4]) + data)
    print(f"real_{name}: {len(data)} bytes, {len(packets)} packets")
EOF
