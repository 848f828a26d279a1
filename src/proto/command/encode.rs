//! [`Command`] -> bytes: the header each command travels with and its payload,
//! padded to a multiple of 8 as every CA peer does.

use super::{id, Command, CommandError, SEARCH_DO_REPLY, SEARCH_NO_REPLY, SEQUENCE_VALID};
use crate::proto::header::Header;
use crate::proto::padded_len;

/// Header fields other than the payload size, which is filled in from the payload.
fn fields(command: u16, data_type: u16, data_count: u32, p1: u32, p2: u32) -> Header {
    Header {
        command,
        payload_size: 0,
        data_type,
        data_count,
        parameter1: p1,
        parameter2: p2,
    }
}

pub(super) fn header(cmd: &Command) -> Header {
    use Command::*;
    let mut h = match cmd {
        VersionRequest {
            priority,
            version,
            sequence,
        } => fields(id::VERSION, *priority, u32::from(*version), *sequence, 0),
        VersionResponse { version, sequence } => match sequence {
            Some(n) => fields(id::VERSION, SEQUENCE_VALID, u32::from(*version), *n, 0),
            None => fields(id::VERSION, 0, u32::from(*version), 0, 0),
        },
        SearchRequest {
            cid,
            version,
            reply,
            ..
        } => {
            let reply = if *reply {
                SEARCH_DO_REPLY
            } else {
                SEARCH_NO_REPLY
            };
            fields(id::SEARCH, reply, u32::from(*version), *cid, *cid)
        }
        SearchResponse { port, ip, cid, .. } => {
            let ip = ip.map_or(u32::MAX, u32::from);
            fields(id::SEARCH, *port, 0, ip, *cid)
        }
        NotFoundResponse { version, cid } => fields(
            id::NOT_FOUND,
            SEARCH_DO_REPLY,
            u32::from(*version),
            *cid,
            *cid,
        ),
        EchoRequest | EchoResponse => fields(id::ECHO, 0, 0, 0, 0),
        Beacon {
            version,
            server_port,
            beacon_id,
            address,
        } => fields(
            id::RSRV_IS_UP,
            *version,
            u32::from(*server_port),
            *beacon_id,
            u32::from(*address),
        ),
        RepeaterRegisterRequest { client_address } => {
            fields(id::REPEATER_REGISTER, 0, 0, 0, u32::from(*client_address))
        }
        RepeaterConfirmResponse { repeater_address } => {
            fields(id::REPEATER_CONFIRM, 0, 0, 0, u32::from(*repeater_address))
        }
        EventAddRequest {
            data_type,
            data_count,
            sid,
            subscriptionid,
            ..
        } => fields(
            id::EVENT_ADD,
            data_type.code(),
            *data_count,
            *sid,
            *subscriptionid,
        ),
        EventAddResponse {
            data_type,
            data_count,
            status,
            subscriptionid,
            ..
        } => fields(
            id::EVENT_ADD,
            data_type.code(),
            *data_count,
            *status,
            *subscriptionid,
        ),
        EventCancelRequest {
            data_type,
            data_count,
            sid,
            subscriptionid,
        } => fields(
            id::EVENT_CANCEL,
            data_type.code(),
            *data_count,
            *sid,
            *subscriptionid,
        ),
        EventCancelResponse {
            data_type,
            data_count,
            sid,
            subscriptionid,
        } => fields(
            id::EVENT_ADD,
            data_type.code(),
            *data_count,
            *sid,
            *subscriptionid,
        ),
        ReadRequest {
            data_type,
            data_count,
            sid,
            ioid,
        } => fields(id::READ, data_type.code(), *data_count, *sid, *ioid),
        ReadResponse {
            data_type,
            data_count,
            sid,
            ioid,
            ..
        } => fields(id::READ, data_type.code(), *data_count, *sid, *ioid),
        WriteRequest {
            data_type,
            data_count,
            sid,
            ioid,
            ..
        } => fields(id::WRITE, data_type.code(), *data_count, *sid, *ioid),
        EventsOffRequest => fields(id::EVENTS_OFF, 0, 0, 0, 0),
        EventsOnRequest => fields(id::EVENTS_ON, 0, 0, 0, 0),
        ReadSyncRequest => fields(id::READ_SYNC, 0, 0, 0, 0),
        ErrorResponse { cid, status, .. } => fields(id::ERROR, 0, 0, *cid, *status),
        ClearChannelRequest { sid, cid } | ClearChannelResponse { sid, cid } => {
            fields(id::CLEAR_CHANNEL, 0, 0, *sid, *cid)
        }
        ReadNotifyRequest {
            data_type,
            data_count,
            sid,
            ioid,
        } => fields(id::READ_NOTIFY, data_type.code(), *data_count, *sid, *ioid),
        ReadNotifyResponse {
            data_type,
            data_count,
            status,
            ioid,
            ..
        } => fields(
            id::READ_NOTIFY,
            data_type.code(),
            *data_count,
            *status,
            *ioid,
        ),
        CreateChanRequest { cid, version, .. } => {
            fields(id::CREATE_CHAN, 0, 0, *cid, u32::from(*version))
        }
        CreateChanResponse {
            data_type,
            data_count,
            cid,
            sid,
        } => fields(id::CREATE_CHAN, data_type.code(), *data_count, *cid, *sid),
        WriteNotifyRequest {
            data_type,
            data_count,
            sid,
            ioid,
            ..
        } => fields(id::WRITE_NOTIFY, data_type.code(), *data_count, *sid, *ioid),
        WriteNotifyResponse {
            data_type,
            data_count,
            status,
            ioid,
        } => fields(
            id::WRITE_NOTIFY,
            data_type.code(),
            *data_count,
            *status,
            *ioid,
        ),
        ClientNameRequest { .. } => fields(id::CLIENT_NAME, 0, 0, 0, 0),
        HostNameRequest { .. } => fields(id::HOST_NAME, 0, 0, 0, 0),
        AccessRightsResponse { cid, access_rights } => {
            fields(id::ACCESS_RIGHTS, 0, 0, *cid, access_rights.bits())
        }
        CreateChFailResponse { cid } => fields(id::CREATE_CH_FAIL, 0, 0, *cid, 0),
        ServerDisconnResponse { cid } => fields(id::SERVER_DISCONN, 0, 0, *cid, 0),
        Obsolete { header, .. } => *header,
    };
    let size = padded_len(payload_len(cmd));
    h.payload_size = u32::try_from(size).unwrap_or(u32::MAX);
    h
}

/// Unpadded payload length.
fn payload_len(cmd: &Command) -> usize {
    use Command::*;
    match cmd {
        SearchRequest { name, .. }
        | CreateChanRequest { name, .. }
        | ClientNameRequest { name }
        | HostNameRequest { name } => name.len() + 1,
        SearchResponse { .. } => 8,
        EventAddRequest { .. } => 16,
        EventAddResponse { data, .. }
        | ReadResponse { data, .. }
        | WriteRequest { data, .. }
        | ReadNotifyResponse { data, .. }
        | WriteNotifyRequest { data, .. } => data.len(),
        ErrorResponse {
            original_request,
            error_message,
            ..
        } => original_request.encoded_len() + error_message.len() + 1,
        Obsolete { payload, .. } => payload.len(),
        _ => 0,
    }
}

/// A string sent NUL-terminated in command `command` must hold no NUL.
fn check_string(command: u16, s: &str) -> Result<(), CommandError> {
    if s.as_bytes().contains(&0) {
        return Err(CommandError::InteriorNul {
            command: id::name(command).unwrap_or("?"),
        });
    }
    Ok(())
}

/// SEARCH request bytes for a borrowed name: exactly what
/// `Command::SearchRequest { name, cid, version, reply }.encode(out)` writes,
/// without owning the name (a client searching for 100 000 names keeps
/// them shared, not copied into one command each).
pub(crate) fn encode_search_request(
    name: &str,
    cid: u32,
    version: u16,
    reply: bool,
    out: &mut Vec<u8>,
) -> Result<usize, CommandError> {
    let reply = if reply {
        SEARCH_DO_REPLY
    } else {
        SEARCH_NO_REPLY
    };
    encode_named(
        fields(id::SEARCH, reply, u32::from(version), cid, cid),
        name,
        out,
    )
}

/// CREATE_CHAN request bytes for a borrowed name: exactly what
/// `Command::CreateChanRequest { name, cid, version }.encode(out)` writes.
pub(crate) fn encode_create_chan_request(
    name: &str,
    cid: u32,
    version: u16,
    out: &mut Vec<u8>,
) -> Result<usize, CommandError> {
    encode_named(
        fields(id::CREATE_CHAN, 0, 0, cid, u32::from(version)),
        name,
        out,
    )
}

/// Header `h` and its payload `name`, NUL-terminated and padded: the form of
/// every command whose payload is one string.
fn encode_named(mut h: Header, name: &str, out: &mut Vec<u8>) -> Result<usize, CommandError> {
    check_string(h.command, name)?;
    let padded = padded_len(name.len() + 1);
    h.payload_size = u32::try_from(padded).map_err(|_| CommandError::PayloadTooLarge {
        size: padded as u64,
        max: u64::from(u32::MAX),
    })?;
    let start = out.len();
    out.reserve(h.encoded_len() + padded);
    h.encode(out);
    out.extend_from_slice(name.as_bytes());
    out.resize(start + h.encoded_len() + padded, 0);
    Ok(out.len() - start)
}

pub(super) fn encode(cmd: &Command, out: &mut Vec<u8>) -> Result<usize, CommandError> {
    use Command::*;
    if let SearchRequest { name, .. }
    | CreateChanRequest { name, .. }
    | ClientNameRequest { name }
    | HostNameRequest { name } = cmd
    {
        return encode_named(header(cmd), name, out);
    }
    let len = payload_len(cmd);
    let padded = padded_len(len);
    if u32::try_from(padded).is_err() {
        return Err(CommandError::PayloadTooLarge {
            size: padded as u64,
            max: u64::from(u32::MAX),
        });
    }
    if let ErrorResponse { error_message, .. } = cmd {
        check_string(cmd.command_id(), error_message)?;
    }
    let start = out.len();
    let h = header(cmd);
    out.reserve(h.encoded_len() + padded);
    h.encode(out);
    match cmd {
        SearchResponse { version, .. } => out.extend_from_slice(&version.to_be_bytes()),
        EventAddRequest {
            low,
            high,
            to,
            mask,
            ..
        } => {
            out.extend_from_slice(&low.to_be_bytes());
            out.extend_from_slice(&high.to_be_bytes());
            out.extend_from_slice(&to.to_be_bytes());
            out.extend_from_slice(&mask.to_be_bytes());
        }
        EventAddResponse { data, .. }
        | ReadResponse { data, .. }
        | WriteRequest { data, .. }
        | ReadNotifyResponse { data, .. }
        | WriteNotifyRequest { data, .. } => out.extend_from_slice(data),
        ErrorResponse {
            original_request,
            error_message,
            ..
        } => {
            original_request.encode(out);
            out.extend_from_slice(error_message.as_bytes());
            out.push(0);
        }
        Obsolete { payload, .. } => out.extend_from_slice(payload),
        _ => {}
    }
    // Zero padding up to the 8-byte boundary (also covers fixed payloads written short above).
    out.resize(start + h.encoded_len() + padded, 0);
    Ok(out.len() - start)
}
