"""Shared by the golden-vector scripts: turn one CA message (as parsed by
caproto 1.3.0) into a JSON record with the field names of our Rust `Command`.

Header fields are read from caproto's parsed header rather than from caproto's
convenience properties, because several of those return rich objects
(CAStatusCode, ChannelType) or, for ErrorResponse, raw padded bytes.
"""
import ctypes

import caproto as ca
from caproto._headers import ExtendedMessageHeader

HEADER_FIELDS = ('command', 'payload_size', 'data_type', 'data_count',
                 'parameter1', 'parameter2')


def _ip(value):
    return ca.ipv4_from_int32(value)


def fields_of(cmd, wire):
    """Return (name, direction, fields) for caproto command `cmd` whose wire
    bytes are `wire`."""
    h = cmd.header
    hlen = ctypes.sizeof(h)
    payload = bytes(wire[hlen:])
    name = type(cmd).__name__
    # EPICS confirms a cancel with an EVENT_ADD without payload; caproto parses
    # it as an empty EventAddResponse.
    if name == 'EventAddResponse' and not payload:
        name = 'EventCancelResponse'
    direction = 'request' if name.endswith('Request') else 'response'
    p1, p2 = h.parameter1, h.parameter2
    dt, dc = h.data_type, h.data_count
    f = {}
    if name == 'VersionRequest':
        f = dict(priority=dt, version=dc, sequence=p1)
    elif name == 'VersionResponse':
        # data_type 1 flags parameter1 as the (UDP search) sequence number.
        f = dict(version=dc, sequence=p1 if dt == 1 else None)
    elif name == 'SearchRequest':
        f = dict(name=cmd.name, cid=p1, version=dc, reply=(dt == ca.DO_REPLY))
    elif name == 'SearchResponse':
        f = dict(port=dt, ip=None if p1 == 0xFFFFFFFF else _ip(p1), cid=p2,
                 version=cmd.version)
    elif name == 'NotFoundResponse':
        f = dict(version=dc, cid=p1)
    elif name == 'Beacon':
        direction = 'response'
        f = dict(version=dt, server_port=dc, beacon_id=p1, address=_ip(p2))
    elif name == 'RepeaterRegisterRequest':
        f = dict(client_address=_ip(p2))
    elif name == 'RepeaterConfirmResponse':
        f = dict(repeater_address=_ip(p2))
    elif name == 'EventAddRequest':
        f = dict(data_type=dt, data_count=dc, sid=p1, subscriptionid=p2,
                 low=cmd.low, high=cmd.high, to=cmd.to, mask=cmd.mask)
    elif name == 'EventAddResponse':
        f = dict(data=payload.hex(), data_type=dt, data_count=dc, status=p1,
                 subscriptionid=p2)
    elif name in ('EventCancelRequest', 'EventCancelResponse'):
        f = dict(data_type=dt, data_count=dc, sid=p1, subscriptionid=p2)
    elif name in ('ReadRequest', 'ReadNotifyRequest'):
        f = dict(data_type=dt, data_count=dc, sid=p1, ioid=p2)
    elif name in ('ReadResponse', 'WriteRequest', 'WriteNotifyRequest'):
        f = dict(data=payload.hex(), data_type=dt, data_count=dc, sid=p1,
                 ioid=p2)
    elif name == 'ReadNotifyResponse':
        f = dict(data=payload.hex(), data_type=dt, data_count=dc, status=p1,
                 ioid=p2)
    elif name == 'ErrorResponse':
        orig = cmd.original_request
        olen = ctypes.sizeof(orig)
        if orig.payload_size == 0xFFFF:  # extended original header
            orig = ExtendedMessageHeader.from_buffer_copy(payload[:24])
            olen = 24
        msg = payload[olen:].split(b'\0', 1)[0].decode('latin-1')
        f = dict(original_request={k: getattr(orig, k) for k in HEADER_FIELDS},
                 cid=p1, status=p2, error_message=msg)
    elif name in ('ClearChannelRequest', 'ClearChannelResponse'):
        f = dict(sid=p1, cid=p2)
    elif name == 'CreateChanRequest':
        f = dict(name=cmd.name, cid=p1, version=p2)
    elif name == 'CreateChanResponse':
        f = dict(data_type=dt, data_count=dc, cid=p1, sid=p2)
    elif name == 'WriteNotifyResponse':
        f = dict(data_type=dt, data_count=dc, status=p1, ioid=p2)
    elif name in ('ClientNameRequest', 'HostNameRequest'):
        f = dict(name=cmd.name)
    elif name == 'AccessRightsResponse':
        f = dict(cid=p1, access_rights=p2)
    elif name in ('CreateChFailResponse', 'ServerDisconnResponse'):
        f = dict(cid=p1)
    elif name in ('EchoRequest', 'EchoResponse', 'EventsOffRequest',
                  'EventsOnRequest', 'ReadSyncRequest'):
        f = {}
    else:
        raise ValueError(f'no field mapping for {name}')
    return name, direction, f
