//! Bytes -> [`Command`]: framing (header, size limit, completeness) and the
//! per-command interpretation of header fields and payloads.
//!
//! Tolerance follows EPICS: unpadded payloads and payloads longer than their
//! structure are accepted; fixed structures that are too short, strings without
//! a NUL and out-of-range type codes are refused with a typed error.

use std::net::Ipv4Addr;

use super::{id, AccessRights, Command, CommandError, Decoded, SEARCH_DO_REPLY, SEQUENCE_VALID};
use crate::proto::dbr::DbrType;
use crate::proto::header::{Header, HeaderError};
use crate::proto::Direction;

/// Where one whole message sits at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The decoded header.
    pub header: Header,
    /// Bytes the header occupies (16 or 24).
    pub header_len: usize,
    /// Bytes header and payload occupy together.
    pub total_len: usize,
}

/// Find the message at the front of `buf` without interpreting it: `Ok(None)` when
/// more bytes are needed (then `needed` is the total known so far), `Err` when the
/// header announces more than `max_payload`. Lets a caller skip a message whose
/// decoding failed.
pub fn split_frame(buf: &[u8], max_payload: usize) -> Result<Result<Frame, usize>, CommandError> {
    let (header, header_len) = match Header::decode(buf) {
        Ok(decoded) => decoded,
        Err(HeaderError::Incomplete { needed }) => return Ok(Err(needed)),
    };
    let size = header.payload_size as usize;
    if u64::from(header.payload_size) > max_payload as u64 {
        return Err(CommandError::PayloadTooLarge {
            size: u64::from(header.payload_size),
            max: max_payload as u64,
        });
    }
    let total_len = header_len.saturating_add(size);
    if buf.len() < total_len {
        return Ok(Err(total_len));
    }
    Ok(Ok(Frame {
        header,
        header_len,
        total_len,
    }))
}

pub(super) fn decode_from(
    buf: &[u8],
    direction: Direction,
    max_payload: usize,
) -> Result<Decoded, CommandError> {
    // Check the id before waiting for a payload, so junk is refused at once.
    if buf.len() >= 2 {
        check_id(u16::from_be_bytes([buf[0], buf[1]]), direction)?;
    }
    match split_frame(buf, max_payload)? {
        Err(needed) => Ok(Decoded::Incomplete { needed }),
        Ok(frame) => {
            let payload = &buf[frame.header_len..frame.total_len];
            let command = decode(&frame.header, payload, direction)?;
            Ok(Decoded::Command(command, frame.total_len))
        }
    }
}

/// Whether command `cmd` exists and may travel in `direction`.
fn check_id(cmd: u16, direction: Direction) -> Result<(), CommandError> {
    use id::*;
    let ok = match cmd {
        // Either way.
        VERSION | EVENT_ADD | READ | SEARCH | CLEAR_CHANNEL | RSRV_IS_UP | READ_NOTIFY
        | CREATE_CHAN | WRITE_NOTIFY | ECHO | SNAPSHOT | BUILD | READ_BUILD | SIGNAL => true,
        EVENT_CANCEL | WRITE | EVENTS_OFF | EVENTS_ON | READ_SYNC | CLIENT_NAME | HOST_NAME
        | REPEATER_REGISTER => direction == Direction::Request,
        ERROR | NOT_FOUND | REPEATER_CONFIRM | ACCESS_RIGHTS | CREATE_CH_FAIL | SERVER_DISCONN => {
            direction == Direction::Response
        }
        other => return Err(CommandError::UnknownCommand(other)),
    };
    if ok {
        Ok(())
    } else {
        Err(CommandError::WrongDirection {
            command: cmd,
            direction,
        })
    }
}

pub(super) fn decode(
    h: &Header,
    payload: &[u8],
    direction: Direction,
) -> Result<Command, CommandError> {
    check_id(h.command, direction)?;
    let request = direction == Direction::Request;
    let name = id::name(h.command).unwrap_or("?");
    let p1 = h.parameter1;
    let p2 = h.parameter2;
    let cmd = match h.command {
        id::VERSION if request => Command::VersionRequest {
            priority: h.data_type,
            version: count_u16(h, name, "version")?,
            sequence: p1,
        },
        id::VERSION => Command::VersionResponse {
            version: count_u16(h, name, "version")?,
            sequence: (h.data_type == SEQUENCE_VALID).then_some(p1),
        },
        id::SEARCH if request => Command::SearchRequest {
            name: nul_string(name, payload)?,
            cid: p1,
            version: count_u16(h, name, "version")?,
            reply: h.data_type == SEARCH_DO_REPLY,
        },
        id::SEARCH => Command::SearchResponse {
            port: h.data_type,
            ip: (p1 != u32::MAX).then(|| Ipv4Addr::from(p1)),
            cid: p2,
            // Servers before protocol 4.8 sent no payload; EPICS then assumes version 0.
            version: payload
                .get(..2)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]])),
        },
        id::NOT_FOUND => Command::NotFoundResponse {
            version: count_u16(h, name, "version")?,
            cid: p1,
        },
        id::ECHO if request => Command::EchoRequest,
        id::ECHO => Command::EchoResponse,
        id::RSRV_IS_UP => Command::Beacon {
            version: h.data_type,
            server_port: count_u16(h, name, "server_port")?,
            beacon_id: p1,
            address: Ipv4Addr::from(p2),
        },
        id::REPEATER_REGISTER => Command::RepeaterRegisterRequest {
            client_address: Ipv4Addr::from(p2),
        },
        id::REPEATER_CONFIRM => Command::RepeaterConfirmResponse {
            repeater_address: Ipv4Addr::from(p2),
        },
        id::EVENT_ADD if request => {
            let b = fixed(name, payload, 16)?;
            let f32_at = |i: usize| f32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            Command::EventAddRequest {
                data_type: dbr(h.data_type)?,
                data_count: h.data_count,
                sid: p1,
                subscriptionid: p2,
                low: f32_at(0),
                high: f32_at(4),
                to: f32_at(8),
                mask: u16::from_be_bytes([b[12], b[13]]),
            }
        }
        // libca and rsrv confirm a cancel with an EVENT_ADD that has no payload.
        id::EVENT_ADD if payload.is_empty() => Command::EventCancelResponse {
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            sid: p1,
            subscriptionid: p2,
        },
        id::EVENT_ADD => Command::EventAddResponse {
            data: payload.to_vec(),
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            status: p1,
            subscriptionid: p2,
        },
        id::EVENT_CANCEL => Command::EventCancelRequest {
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            sid: p1,
            subscriptionid: p2,
        },
        id::READ if request => Command::ReadRequest {
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            sid: p1,
            ioid: p2,
        },
        id::READ => Command::ReadResponse {
            data: payload.to_vec(),
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            sid: p1,
            ioid: p2,
        },
        id::WRITE => Command::WriteRequest {
            data: payload.to_vec(),
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            sid: p1,
            ioid: p2,
        },
        id::EVENTS_OFF => Command::EventsOffRequest,
        id::EVENTS_ON => Command::EventsOnRequest,
        id::READ_SYNC => Command::ReadSyncRequest,
        id::ERROR => {
            let (original_request, used) = Header::decode(payload).map_err(|e| match e {
                HeaderError::Incomplete { needed } => CommandError::Truncated {
                    command: name,
                    needed,
                    got: payload.len(),
                },
            })?;
            let rest = &payload[used..];
            Command::ErrorResponse {
                original_request,
                cid: p1,
                status: p2,
                // An all-padding (or absent) message is an empty one.
                error_message: if rest.iter().all(|&b| b == 0) {
                    String::new()
                } else {
                    nul_string(name, rest)?
                },
            }
        }
        id::CLEAR_CHANNEL if request => Command::ClearChannelRequest { sid: p1, cid: p2 },
        id::CLEAR_CHANNEL => Command::ClearChannelResponse { sid: p1, cid: p2 },
        id::READ_NOTIFY if request => Command::ReadNotifyRequest {
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            sid: p1,
            ioid: p2,
        },
        id::READ_NOTIFY => Command::ReadNotifyResponse {
            data: payload.to_vec(),
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            status: p1,
            ioid: p2,
        },
        id::CREATE_CHAN if request => Command::CreateChanRequest {
            name: nul_string(name, payload)?,
            cid: p1,
            version: u16::try_from(p2).map_err(|_| CommandError::FieldOutOfRange {
                command: name,
                field: "version",
                value: p2,
            })?,
        },
        id::CREATE_CHAN => Command::CreateChanResponse {
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            cid: p1,
            sid: p2,
        },
        id::WRITE_NOTIFY if request => Command::WriteNotifyRequest {
            data: payload.to_vec(),
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            sid: p1,
            ioid: p2,
        },
        id::WRITE_NOTIFY => Command::WriteNotifyResponse {
            data_type: dbr(h.data_type)?,
            data_count: h.data_count,
            status: p1,
            ioid: p2,
        },
        id::CLIENT_NAME => Command::ClientNameRequest {
            name: nul_string(name, payload)?,
        },
        id::HOST_NAME => Command::HostNameRequest {
            name: nul_string(name, payload)?,
        },
        id::ACCESS_RIGHTS => Command::AccessRightsResponse {
            cid: p1,
            access_rights: AccessRights::from_bits(p2),
        },
        id::CREATE_CH_FAIL => Command::CreateChFailResponse { cid: p1 },
        id::SERVER_DISCONN => Command::ServerDisconnResponse { cid: p1 },
        // SNAPSHOT, BUILD, READ_BUILD, SIGNAL (check_id let nothing else through).
        _ => Command::Obsolete {
            header: *h,
            payload: payload.to_vec(),
        },
    };
    Ok(cmd)
}

fn dbr(code: u16) -> Result<DbrType, CommandError> {
    DbrType::from_code(code).ok_or(CommandError::UnknownDbrType(code))
}

/// The header's `data_count` where a command keeps a 16-bit value there.
fn count_u16(h: &Header, command: &'static str, field: &'static str) -> Result<u16, CommandError> {
    u16::try_from(h.data_count).map_err(|_| CommandError::FieldOutOfRange {
        command,
        field,
        value: h.data_count,
    })
}

/// The first `len` bytes of a fixed-layout payload (longer payloads are tolerated).
fn fixed<'a>(
    command: &'static str,
    payload: &'a [u8],
    len: usize,
) -> Result<&'a [u8], CommandError> {
    payload.get(..len).ok_or(CommandError::Truncated {
        command,
        needed: len,
        got: payload.len(),
    })
}

/// A NUL-terminated string at the start of `payload` (padding after the NUL ignored).
/// UTF-8 when valid; otherwise each byte is taken as a Latin-1 character, as caproto does.
fn nul_string(command: &'static str, payload: &[u8]) -> Result<String, CommandError> {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .ok_or(CommandError::UnterminatedString { command })?;
    let bytes = &payload[..end];
    Ok(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    })
}
