#!/usr/bin/env python3
"""Write tests/golden/commands.json: the wire bytes caproto 1.3.0 produces for
every CA command, several parameter choices each (both directions, extended
headers included), with the field values in our Rust `Command`'s naming.

Run with caproto's interpreter from the repository root:
    /work/peers/venv/bin/python scripts/golden/gen_commands.py
The output is deterministic; tests/golden_commands.rs checks our codec against it.
"""
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import caproto as ca  # noqa: E402
from caproto import ChannelType as T  # noqa: E402
from caproto import _dbr  # noqa: E402

from ca_fields import fields_of  # noqa: E402

warnings.simplefilter('ignore')  # ReadResponse is deprecated; we still want it.

OUT = os.path.join('tests', 'golden', 'commands.json')


def commands():
    """Yield (label, caproto command)."""
    yield 'version-req', ca.VersionRequest(priority=0, version=13)
    yield 'version-req-prio', ca.VersionRequest(priority=99, version=11)
    yield 'version-resp', ca.VersionResponse(13)
    yield 'search-req', ca.SearchRequest('cx:ai', 5, 13)
    yield 'search-req-reply', ca.SearchRequest('a', 0xFFFFFFFF, 13, reply=ca.DO_REPLY)
    yield 'search-req-field', ca.SearchRequest('XF:31IDA-OP{Tbl-Ax:X1}Mtr.RBV', 12345, 13)
    yield 'search-req-7', ca.SearchRequest('abcdefg', 1, 13)  # NUL fills the 8 bytes exactly
    yield 'search-resp', ca.SearchResponse(5064, '127.0.0.1', 5, 13)
    yield 'search-resp-any', ca.SearchResponse(47621, None, 9, 13)
    yield 'not-found', ca.NotFoundResponse(13, 5)
    yield 'echo-req', ca.EchoRequest()
    yield 'echo-resp', ca.EchoResponse()
    yield 'beacon', ca.Beacon(13, 5064, 3, '127.0.0.1')
    yield 'beacon-zero', ca.Beacon(13, 65000, 0xFFFFFFFE, '0.0.0.0')
    yield 'repeater-register', ca.RepeaterRegisterRequest('127.0.0.1')
    yield 'repeater-register-any', ca.RepeaterRegisterRequest()
    yield 'repeater-confirm', ca.RepeaterConfirmResponse('127.0.0.1')
    yield 'event-add-req', ca.EventAddRequest(T.TIME_DOUBLE, 1, 2, 3, 0, 0, 0, 5)
    yield 'event-add-req-deltas', ca.EventAddRequest(T.CTRL_INT, 10, 7, 8, 1.5, -2.25, 0.125, 15)
    yield 'event-add-req-ext', ca.EventAddRequest(T.DOUBLE, 100000, 1, 2, 0, 0, 0, 1)
    yield 'event-add-resp', ca.EventAddResponse([1.5, 2.5], T.DOUBLE, 2, 1, 3)
    yield 'event-add-resp-long', ca.EventAddResponse([-1, 7, 1 << 30], T.LONG, 3, 1, 4)
    yield 'event-add-resp-str', ca.EventAddResponse([b'hello'], T.STRING, 1, 1, 5)
    # Extended because of the count; the payload is kept small so the data file stays small.
    yield 'event-add-resp-ext', ca.EventAddResponse(
        bytes(range(40)), T.CHAR, 70000, 1, 6)
    yield 'event-cancel-req', ca.EventCancelRequest(T.DOUBLE, 2, 3)
    yield 'event-cancel-resp', ca.EventCancelResponse(T.DOUBLE, 2, 3, 1)
    yield 'event-cancel-resp-ext', ca.EventCancelResponse(T.TIME_FLOAT, 2, 3, 80000)
    yield 'read-req', ca.ReadRequest(T.DOUBLE, 1, 2, 3)
    yield 'read-resp', ca.ReadResponse([3.0], T.DOUBLE, 1, 2, 3)
    yield 'write-req', ca.WriteRequest([3.0], T.DOUBLE, 1, 2, 3)
    yield 'write-req-enum', ca.WriteRequest([2], T.ENUM, 1, 9, 10)
    yield 'events-off', ca.EventsOffRequest()
    yield 'events-on', ca.EventsOnRequest()
    yield 'read-sync', ca.ReadSyncRequest()
    yield 'error-resp', ca.ErrorResponse(
        ca.ReadNotifyRequest(T.DOUBLE, 1, 2, 3), 2, 114, 'no such')
    yield 'error-resp-write', ca.ErrorResponse(
        ca.WriteNotifyRequest([1.5], T.DOUBLE, 1, 2, 3), 7,
        ca.CAStatus.ECA_NOWTACCESS, 'Write access denied')
    yield 'error-resp-ext', ca.ErrorResponse(
        ca.ReadNotifyRequest(T.DOUBLE, 70000, 2, 3), 2,
        ca.CAStatus.ECA_TOLARGE, 'too large')
    yield 'clear-req', ca.ClearChannelRequest(2, 1)
    yield 'clear-resp', ca.ClearChannelResponse(2, 1)
    yield 'read-notify-req', ca.ReadNotifyRequest(T.DOUBLE, 0, 0, 0)
    yield 'read-notify-req-ctrl', ca.ReadNotifyRequest(T.CTRL_ENUM, 1, 4, 5)
    yield 'read-notify-req-ext', ca.ReadNotifyRequest(T.TIME_DOUBLE, 1000000, 4, 6)
    yield 'read-notify-resp-str', ca.ReadNotifyResponse([b'abc'], T.STRING, 1, 1, 3)
    yield 'read-notify-resp-int', ca.ReadNotifyResponse([1], T.INT, 1, 1, 3)
    md = _dbr.DBR_TIME_DOUBLE()
    md.status, md.severity = 3, 2
    md.stamp.secondsSinceEpoch, md.stamp.nanoSeconds = 1000, 500
    yield 'read-notify-resp-time', ca.ReadNotifyResponse([1.5], T.TIME_DOUBLE, 1, 1, 3, metadata=md)
    yield 'read-notify-resp-fail', ca.ReadNotifyResponse([0.0], T.DOUBLE, 1, 376 - 8, 9)
    yield 'create-chan-req', ca.CreateChanRequest('cx:ai', 1, 13)
    yield 'create-chan-req-long', ca.CreateChanRequest('x' * 60, 0xDEADBEEF, 13)
    yield 'create-chan-resp', ca.CreateChanResponse(T.DOUBLE, 1, 1, 2)
    yield 'create-chan-resp-ext', ca.CreateChanResponse(T.FLOAT, 1 << 20, 3, 4)
    yield 'write-notify-req', ca.WriteNotifyRequest([1.5], T.DOUBLE, 1, 2, 3)
    yield 'write-notify-req-str', ca.WriteNotifyRequest([b'on'], T.STRING, 1, 2, 4)
    yield 'write-notify-resp', ca.WriteNotifyResponse(T.DOUBLE, 1, 1, 3)
    yield 'write-notify-resp-denied', ca.WriteNotifyResponse(T.DOUBLE, 1, 376, 4)
    yield 'client-name', ca.ClientNameRequest('user')
    yield 'client-name-8', ca.ClientNameRequest('username')  # 9 bytes with NUL
    yield 'host-name', ca.HostNameRequest('host')
    for bits in range(4):
        yield f'access-rights-{bits}', ca.AccessRightsResponse(1, bits)
    yield 'create-ch-fail', ca.CreateChFailResponse(1)
    yield 'server-disconn', ca.ServerDisconnResponse(1)


def main():
    vectors = []
    for label, cmd in commands():
        wire = bytes(cmd)
        name, direction, fields = fields_of(cmd, wire)
        vectors.append(dict(label=label, source='caproto-1.3.0', name=name,
                            direction=direction, hex=wire.hex(),
                            fields=fields))
    with open(OUT, 'w') as f:
        json.dump(vectors, f, indent=1)
        f.write('\n')
    print(f'wrote {len(vectors)} vectors to {OUT}')


if __name__ == '__main__':
    main()
