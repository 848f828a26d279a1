#!/usr/bin/env python3
"""Diagnostic UDP shim (bench/RESULTS.md, "catime channel connect"): forwards CA search
datagrams from clients to a server and copies the request's VERSION parameter1 (the
EPICS search sequence number) into the VERSION that starts the server's reply.

    seq_echo_shim.py LISTEN_PORT SERVER_PORT     (both on 127.0.0.1 only)
    EPICS_CA_ADDR_LIST=127.0.0.1:LISTEN_PORT catime PV 3000

Compare catime's channel-connect figure with and without the shim. Loopback only;
stop it by its pid. One client at a time (replies go to the last requester).
"""
import socket
import struct
import sys
import threading


def main():
    listen, server = int(sys.argv[1]), int(sys.argv[2])
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", listen))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind(("127.0.0.1", 0))
    last = {}

    def replies():
        while True:
            data, _ = back.recvfrom(65536)
            if "client" not in last:
                continue
            client, seq = last["client"]
            out = bytearray(data)
            if len(out) >= 16 and struct.unpack(">H", out[:2])[0] == 0:  # VERSION first
                out[8:12] = seq
            front.sendto(bytes(out), client)

    threading.Thread(target=replies, daemon=True).start()
    while True:
        data, client = front.recvfrom(65536)
        if len(data) >= 16:
            last["client"] = (client, data[8:12])
        back.sendto(data, ("127.0.0.1", server))


if __name__ == "__main__":
    main()
