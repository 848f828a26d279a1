//! The server's hot path: channel reads and writes taken from the receive
//! buffer and answered into the output buffer without building a
//! [`Command`] or copying a payload into a vector of its own.
//!
//! catime, archivers and display managers send thousands of READ_NOTIFY and
//! WRITE requests per read from the socket. Through
//! [`VirtualCircuit::next_command`] each one became an owned `Command` (a
//! payload `Vec` for writes), was recorded as a pending ioid, and its reply
//! was another owned `Command` with a payload `Vec`, encoded, checked
//! against the ioid table and freed: that bookkeeping cost more than the
//! read itself. A server answers such requests at once, in order, so there
//! is nothing to track between request and reply:
//! [`VirtualCircuit::next_io_request`] hands out the request's header
//! fields, [`VirtualCircuit::io_payload`] lends its payload, and
//! [`VirtualCircuit::reply_io`] lets the caller encode the reply's payload
//! straight into the output buffer.
//!
//! Checks and log records are those of the general path: a request is only
//! taken here when `next_command` would have accepted it (version
//! handshake begun, valid DBR type, sid of a connected channel, size within
//! the limit); anything else is left for `next_command` to refuse. With
//! DEBUG logging on, the request and the reply are each recorded as the
//! same `Command` the general path would record (decoded only then).

use super::{CircuitState, VirtualCircuit};
use crate::proto::command::{id, Decoded};
use crate::proto::dbr::DbrType;
use crate::proto::header::{Header, EXTENDED_HEADER_LEN, HEADER_LEN};
use crate::proto::trace::{self, Flow, Target};
use crate::proto::{command::Command, padded_len, Direction, Role};

/// Which of the four channel I/O requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoOp {
    /// READ (obsolete): answered with the data, or an ERROR.
    Read,
    /// READ_NOTIFY: answered with the data and a status.
    ReadNotify,
    /// WRITE: answered only with an ERROR when it fails.
    Write,
    /// WRITE_NOTIFY: answered with a status.
    WriteNotify,
}

impl IoOp {
    /// The operation travelling under command id `command`, if any.
    pub fn from_command_id(command: u16) -> Option<IoOp> {
        match command {
            id::READ => Some(IoOp::Read),
            id::READ_NOTIFY => Some(IoOp::ReadNotify),
            id::WRITE => Some(IoOp::Write),
            id::WRITE_NOTIFY => Some(IoOp::WriteNotify),
            _ => None,
        }
    }

    /// The `CA_PROTO_*` id of request and reply.
    pub fn command_id(self) -> u16 {
        match self {
            IoOp::Read => id::READ,
            IoOp::ReadNotify => id::READ_NOTIFY,
            IoOp::Write => id::WRITE,
            IoOp::WriteNotify => id::WRITE_NOTIFY,
        }
    }

    /// WRITE or WRITE_NOTIFY.
    pub fn is_write(self) -> bool {
        matches!(self, IoOp::Write | IoOp::WriteNotify)
    }
}

/// A READ, READ_NOTIFY, WRITE or WRITE_NOTIFY request, by its header
/// fields. A write's payload is lent by [`VirtualCircuit::io_payload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoRequest {
    /// Which request.
    pub op: IoOp,
    /// The header as it came (an ERROR reply quotes it).
    pub header: Header,
    /// The DBR type asked for (read) or sent (write).
    pub data_type: DbrType,
    /// Element count asked for (0: the current length) or sent.
    pub data_count: u32,
    /// The channel's server id.
    pub sid: u32,
    /// The client's id for the operation, echoed in the reply.
    pub ioid: u32,
}

impl IoRequest {
    /// The request `cmd` carries, if it is one of the four. A write's
    /// payload stays in `cmd`.
    pub fn from_command(cmd: &Command) -> Option<IoRequest> {
        let (op, data_type, data_count, sid, ioid) = match cmd {
            Command::ReadRequest {
                data_type,
                data_count,
                sid,
                ioid,
            } => (IoOp::Read, data_type, data_count, sid, ioid),
            Command::ReadNotifyRequest {
                data_type,
                data_count,
                sid,
                ioid,
            } => (IoOp::ReadNotify, data_type, data_count, sid, ioid),
            Command::WriteRequest {
                data_type,
                data_count,
                sid,
                ioid,
                ..
            } => (IoOp::Write, data_type, data_count, sid, ioid),
            Command::WriteNotifyRequest {
                data_type,
                data_count,
                sid,
                ioid,
                ..
            } => (IoOp::WriteNotify, data_type, data_count, sid, ioid),
            _ => return None,
        };
        let mut header = cmd.header();
        header.payload_size = 0;
        Some(IoRequest {
            op,
            header,
            data_type: *data_type,
            data_count: *data_count,
            sid: *sid,
            ioid: *ioid,
        })
    }
}

/// What the header of a reply to an [`IoRequest`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoReply {
    /// ECA status (READ_NOTIFY, WRITE_NOTIFY; a READ reply carries the sid instead).
    pub status: u32,
    /// Elements in the payload (for WRITE_NOTIFY, the count of the write).
    pub data_count: u32,
}

impl VirtualCircuit {
    /// Server role: the next received message, if it is a read or write
    /// request `next_command` would accept, consumed and recorded. `None`
    /// when the next message is anything else or incomplete: call
    /// [`next_command`](Self::next_command) then, which handles it or
    /// refuses it.
    ///
    /// Unlike `next_command`, no pending ioid is recorded, so the reply must
    /// go out through [`reply_io`](Self::reply_io) (or as an ERROR), not
    /// through [`send`](Self::send).
    pub fn next_io_request(&mut self) -> Option<IoRequest> {
        self.release_spent_buffer();
        if self.ends.role != Role::Server
            || !matches!(
                self.state,
                CircuitState::VersionRequested | CircuitState::Connected
            )
        {
            return None;
        }
        let pending = &self.buf[self.pos..];
        let (header, header_len) = Header::decode(pending).ok()?;
        let op = IoOp::from_command_id(header.command)?;
        let payload_len = header.payload_size as usize;
        if payload_len > self.max_payload || pending.len() - header_len < payload_len {
            return None;
        }
        let data_type = DbrType::from_code(header.data_type)?;
        self.tables.connected_sid(header.parameter1)?;
        let start = self.pos + header_len;
        let used = header_len + payload_len;
        self.pos += used;
        self.last_io = start..start + payload_len;
        if trace::debug_enabled() {
            let bytes = &self.buf[self.pos - used..self.pos];
            self.record(Flow::Recv, bytes, Direction::Request, header.parameter1);
        }
        Some(IoRequest {
            op,
            header,
            data_type,
            data_count: header.data_count,
            sid: header.parameter1,
            ioid: header.parameter2,
        })
    }

    /// The payload of the request [`next_io_request`](Self::next_io_request)
    /// returned last (empty once anything else was called).
    pub fn io_payload(&self) -> &[u8] {
        &self.buf[self.last_io.clone()]
    }

    /// Append the reply to `req` to `out`: `fill` appends the payload (a
    /// read's data, unpadded; nothing for a write) and says what the header
    /// reports. The payload is padded to 8 bytes and the header (extended
    /// if the sizes need it) put in front. Returns the bytes appended; a
    /// WRITE has no reply, so nothing is appended for one.
    pub fn reply_io(
        &mut self,
        req: &IoRequest,
        out: &mut Vec<u8>,
        fill: impl FnOnce(&mut Vec<u8>) -> IoReply,
    ) -> usize {
        if req.op == IoOp::Write {
            return 0;
        }
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        let reply = fill(out);
        let payload_len = out.len() - start - HEADER_LEN;
        out.resize(start + HEADER_LEN + padded_len(payload_len), 0);
        let header = Header {
            command: req.op.command_id(),
            payload_size: u32::try_from(padded_len(payload_len)).unwrap_or(u32::MAX),
            data_type: req.data_type.code(),
            data_count: reply.data_count,
            parameter1: match req.op {
                IoOp::Read => req.sid,
                _ => reply.status,
            },
            parameter2: req.ioid,
        };
        let mut wire = [0u8; EXTENDED_HEADER_LEN];
        let header_len = header.encode_into(&mut wire);
        if header_len > HEADER_LEN {
            let at = start + HEADER_LEN;
            out.splice(at..at, [0u8; EXTENDED_HEADER_LEN - HEADER_LEN]);
        }
        out[start..start + header_len].copy_from_slice(&wire[..header_len]);
        if trace::debug_enabled() {
            self.record(Flow::Send, &out[start..], Direction::Response, req.sid);
        }
        out.len() - start
    }

    /// The one log record of the message `bytes` (travelling in
    /// `direction`, on channel `sid`): the `Command` the general path would
    /// have recorded, decoded only now that a record is wanted.
    fn record(&self, flow: Flow, bytes: &[u8], direction: Direction, sid: u32) {
        let Ok(Decoded::Command(cmd, _)) = Command::decode_from(bytes, direction, usize::MAX)
        else {
            return;
        };
        let pv = self.tables.name_of_sid(sid);
        trace::command(
            Target::Circ,
            &self.ends,
            flow,
            pv.as_deref(),
            bytes.len(),
            &cmd,
        );
    }
}
