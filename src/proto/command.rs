//! Every CA command as a typed value, with byte-exact encode/decode and a
//! `Display` in caproto's style, e.g.
//! `ReadNotifyRequest(data_type=DOUBLE, data_count=0, sid=0, ioid=0)`.
//!
//! Data-carrying commands keep their DBR payload as raw wire bytes (`data`):
//! decoding it into values is [`crate::proto::dbr`]'s job, so relaying or
//! logging a command never pays for a conversion it does not need. A decoded
//! `data` is the payload exactly as received (trailing padding included); on
//! encode, `data` may be unpadded and is padded to 8 with zeros.
//!
//! The same command id means different things in each [`Direction`] (e.g. an
//! EVENT_ADD from a server is an update, or a cancel confirmation when it has
//! no payload), so decoding always takes the direction. Byte layouts follow
//! EPICS base and caproto 1.3.0 and are checked against both by
//! `tests/golden_commands.rs`, including the UDP search sequence number EPICS
//! puts in VERSION's parameter1 (servers echo it so that a client can tell
//! which search pass a reply answers).

use std::net::Ipv4Addr;

use super::dbr::DbrType;
use super::header::Header;
use super::Direction;

mod decode;
mod display;
mod encode;
mod error;
#[cfg(test)]
mod tests;

pub use decode::{split_frame, Frame};
pub(crate) use encode::{encode_create_chan_request, encode_search_request};
pub use error::CommandError;

/// Numeric command ids (`CA_PROTO_*`).
pub mod id {
    pub const VERSION: u16 = 0;
    pub const EVENT_ADD: u16 = 1;
    pub const EVENT_CANCEL: u16 = 2;
    pub const READ: u16 = 3;
    pub const WRITE: u16 = 4;
    pub const SNAPSHOT: u16 = 5;
    pub const SEARCH: u16 = 6;
    pub const BUILD: u16 = 7;
    pub const EVENTS_OFF: u16 = 8;
    pub const EVENTS_ON: u16 = 9;
    pub const READ_SYNC: u16 = 10;
    pub const ERROR: u16 = 11;
    pub const CLEAR_CHANNEL: u16 = 12;
    pub const RSRV_IS_UP: u16 = 13;
    pub const NOT_FOUND: u16 = 14;
    pub const READ_NOTIFY: u16 = 15;
    pub const READ_BUILD: u16 = 16;
    pub const REPEATER_CONFIRM: u16 = 17;
    pub const CREATE_CHAN: u16 = 18;
    pub const WRITE_NOTIFY: u16 = 19;
    pub const CLIENT_NAME: u16 = 20;
    pub const HOST_NAME: u16 = 21;
    pub const ACCESS_RIGHTS: u16 = 22;
    pub const ECHO: u16 = 23;
    pub const REPEATER_REGISTER: u16 = 24;
    pub const SIGNAL: u16 = 25;
    pub const CREATE_CH_FAIL: u16 = 26;
    pub const SERVER_DISCONN: u16 = 27;

    /// The `CA_PROTO_` suffix of a command id (`"READ_NOTIFY"`), or `None` for ids EPICS does not define.
    pub fn name(id: u16) -> Option<&'static str> {
        const NAMES: [&str; 28] = [
            "VERSION",
            "EVENT_ADD",
            "EVENT_CANCEL",
            "READ",
            "WRITE",
            "SNAPSHOT",
            "SEARCH",
            "BUILD",
            "EVENTS_OFF",
            "EVENTS_ON",
            "READ_SYNC",
            "ERROR",
            "CLEAR_CHANNEL",
            "RSRV_IS_UP",
            "NOT_FOUND",
            "READ_NOTIFY",
            "READ_BUILD",
            "REPEATER_CONFIRM",
            "CREATE_CHAN",
            "WRITE_NOTIFY",
            "CLIENT_NAME",
            "HOST_NAME",
            "ACCESS_RIGHTS",
            "ECHO",
            "REPEATER_REGISTER",
            "SIGNAL",
            "CREATE_CH_FAIL",
            "SERVER_DISCONN",
        ];
        NAMES.get(usize::from(id)).copied()
    }
}

/// `data_type` of a SEARCH request: whether the server should answer NOT_FOUND.
pub const SEARCH_DO_REPLY: u16 = 10;
/// VERSION data_type saying parameter1 carries a search sequence number
/// (EPICS' `sequenceNoIsValid`).
pub const SEQUENCE_VALID: u16 = 1;
/// `data_type` of a SEARCH request: stay silent when the name is not found.
pub const SEARCH_NO_REPLY: u16 = 5;

/// Subscription event masks (`DBE_*`) for `EventAddRequest::mask`.
pub mod mask {
    pub const VALUE: u16 = 1;
    /// Also called `DBE_ARCHIVE`.
    pub const LOG: u16 = 2;
    pub const ALARM: u16 = 4;
    pub const PROPERTY: u16 = 8;
}

/// Access rights a server grants on a channel (ACCESS_RIGHTS parameter2 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AccessRights {
    /// Bit 0.
    pub read: bool,
    /// Bit 1.
    pub write: bool,
}

impl AccessRights {
    /// Read and write, the usual grant.
    pub const READ_WRITE: AccessRights = AccessRights {
        read: true,
        write: true,
    };
    /// Read-only.
    pub const READ_ONLY: AccessRights = AccessRights {
        read: true,
        write: false,
    };

    /// Wire form.
    pub fn bits(self) -> u32 {
        u32::from(self.read) | (u32::from(self.write) << 1)
    }

    /// From the wire form; unknown bits are ignored.
    pub fn from_bits(bits: u32) -> Self {
        AccessRights {
            read: bits & 1 != 0,
            write: bits & 2 != 0,
        }
    }
}

/// One CA command. Variant and field names follow caproto so that log lines
/// read the same in both implementations.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Opens a circuit (TCP) or heads a search datagram (UDP). On UDP, EPICS
    /// clients set `priority` to 1 ("sequence number valid") and count their
    /// search passes in `sequence`; on TCP both are 0.
    VersionRequest {
        priority: u16,
        version: u16,
        sequence: u32,
    },
    /// A server's version. `sequence` is `Some` when the header flags it as
    /// valid (data_type 1): on UDP it echoes the request's search sequence
    /// number, which EPICS clients need to pace their searches; caproto sends
    /// `Some(1)` on both transports, EPICS `None` on TCP.
    VersionResponse {
        version: u16,
        sequence: Option<u32>,
    },
    SearchRequest {
        name: String,
        cid: u32,
        version: u16,
        reply: bool,
    },
    /// `ip` is `None` when the server sent 0xFFFFFFFF ("use the datagram's source address").
    SearchResponse {
        port: u16,
        ip: Option<Ipv4Addr>,
        cid: u32,
        version: u16,
    },
    NotFoundResponse {
        version: u16,
        cid: u32,
    },
    EchoRequest,
    EchoResponse,
    /// RSRV_IS_UP.
    Beacon {
        version: u16,
        server_port: u16,
        beacon_id: u32,
        address: Ipv4Addr,
    },
    RepeaterRegisterRequest {
        client_address: Ipv4Addr,
    },
    RepeaterConfirmResponse {
        repeater_address: Ipv4Addr,
    },
    EventAddRequest {
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        subscriptionid: u32,
        low: f32,
        high: f32,
        to: f32,
        mask: u16,
    },
    EventAddResponse {
        data: Vec<u8>,
        data_type: DbrType,
        data_count: u32,
        status: u32,
        subscriptionid: u32,
    },
    /// `data_count` is the subscription's element count: EPICS libca sends it
    /// (caproto sends 0), and servers echo it in the [`Command::EventCancelResponse`].
    EventCancelRequest {
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        subscriptionid: u32,
    },
    /// An EVENT_ADD with no payload, sent by the server to confirm a cancel.
    /// Its header echoes the cancel request's type, count, sid and subscription id.
    EventCancelResponse {
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        subscriptionid: u32,
    },
    /// Obsolete READ (3); decoded for completeness.
    ReadRequest {
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        ioid: u32,
    },
    /// Obsolete READ (3) reply.
    ReadResponse {
        data: Vec<u8>,
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        ioid: u32,
    },
    WriteRequest {
        data: Vec<u8>,
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        ioid: u32,
    },
    EventsOffRequest,
    EventsOnRequest,
    ReadSyncRequest,
    /// `original_request` is the header of the request that failed.
    ErrorResponse {
        original_request: Header,
        cid: u32,
        status: u32,
        error_message: String,
    },
    ClearChannelRequest {
        sid: u32,
        cid: u32,
    },
    ClearChannelResponse {
        sid: u32,
        cid: u32,
    },
    ReadNotifyRequest {
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        ioid: u32,
    },
    ReadNotifyResponse {
        data: Vec<u8>,
        data_type: DbrType,
        data_count: u32,
        status: u32,
        ioid: u32,
    },
    CreateChanRequest {
        name: String,
        cid: u32,
        version: u16,
    },
    CreateChanResponse {
        data_type: DbrType,
        data_count: u32,
        cid: u32,
        sid: u32,
    },
    WriteNotifyRequest {
        data: Vec<u8>,
        data_type: DbrType,
        data_count: u32,
        sid: u32,
        ioid: u32,
    },
    WriteNotifyResponse {
        data_type: DbrType,
        data_count: u32,
        status: u32,
        ioid: u32,
    },
    ClientNameRequest {
        name: String,
    },
    HostNameRequest {
        name: String,
    },
    AccessRightsResponse {
        cid: u32,
        access_rights: AccessRights,
    },
    CreateChFailResponse {
        cid: u32,
    },
    ServerDisconnResponse {
        cid: u32,
    },
    /// SNAPSHOT, BUILD, READ_BUILD, SIGNAL: obsolete commands no modern peer sends.
    /// Kept verbatim so they can be logged and refused rather than misparsed.
    Obsolete {
        header: Header,
        payload: Vec<u8>,
    },
}

/// Result of trying to decode one command from the front of a byte buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// The buffer holds less than one whole command; at least `needed` bytes in total are required.
    Incomplete { needed: usize },
    /// One command, and how many bytes of the buffer it used.
    Command(Command, usize),
}

impl Command {
    /// Decode the command at the front of `buf`, travelling in `direction`.
    ///
    /// Payloads larger than `max_payload` are refused from the header alone, before
    /// anything is buffered; so are unknown command ids and commands that cannot travel
    /// in `direction`. When an error is returned, [`split_frame`] tells how many bytes
    /// the offending message occupies, for callers that want to skip it.
    pub fn decode_from(
        buf: &[u8],
        direction: Direction,
        max_payload: usize,
    ) -> Result<Decoded, CommandError> {
        decode::decode_from(buf, direction, max_payload)
    }

    /// Decode from an already-parsed header and its complete payload
    /// (`payload.len()` should equal `header.payload_size`; any excess is treated as padding).
    pub fn decode(
        header: &Header,
        payload: &[u8],
        direction: Direction,
    ) -> Result<Command, CommandError> {
        decode::decode(header, payload, direction)
    }

    /// Append the wire form (header + payload padded to 8) to `out`; returns the bytes written.
    /// On error nothing is appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<usize, CommandError> {
        encode::encode(self, out)
    }

    /// The wire form as a new vector; see [`Command::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, CommandError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }

    /// The header this command encodes to (payload size padded to 8, real sizes even when
    /// the extended form will be used on the wire).
    pub fn header(&self) -> Header {
        encode::header(self)
    }

    /// Total bytes on the wire: header (16 or 24) + padded payload.
    pub fn encoded_len(&self) -> usize {
        let header = self.header();
        header.encoded_len() + header.payload_size as usize
    }

    /// The `CA_PROTO_*` command id this command travels under. Note that
    /// [`Command::EventCancelResponse`] travels as EVENT_ADD (1), as EPICS does.
    pub fn command_id(&self) -> u16 {
        use Command::*;
        match self {
            VersionRequest { .. } | VersionResponse { .. } => id::VERSION,
            SearchRequest { .. } | SearchResponse { .. } => id::SEARCH,
            NotFoundResponse { .. } => id::NOT_FOUND,
            EchoRequest | EchoResponse => id::ECHO,
            Beacon { .. } => id::RSRV_IS_UP,
            RepeaterRegisterRequest { .. } => id::REPEATER_REGISTER,
            RepeaterConfirmResponse { .. } => id::REPEATER_CONFIRM,
            EventAddRequest { .. } | EventAddResponse { .. } | EventCancelResponse { .. } => {
                id::EVENT_ADD
            }
            EventCancelRequest { .. } => id::EVENT_CANCEL,
            ReadRequest { .. } | ReadResponse { .. } => id::READ,
            WriteRequest { .. } => id::WRITE,
            EventsOffRequest => id::EVENTS_OFF,
            EventsOnRequest => id::EVENTS_ON,
            ReadSyncRequest => id::READ_SYNC,
            ErrorResponse { .. } => id::ERROR,
            ClearChannelRequest { .. } | ClearChannelResponse { .. } => id::CLEAR_CHANNEL,
            ReadNotifyRequest { .. } | ReadNotifyResponse { .. } => id::READ_NOTIFY,
            CreateChanRequest { .. } | CreateChanResponse { .. } => id::CREATE_CHAN,
            WriteNotifyRequest { .. } | WriteNotifyResponse { .. } => id::WRITE_NOTIFY,
            ClientNameRequest { .. } => id::CLIENT_NAME,
            HostNameRequest { .. } => id::HOST_NAME,
            AccessRightsResponse { .. } => id::ACCESS_RIGHTS,
            CreateChFailResponse { .. } => id::CREATE_CH_FAIL,
            ServerDisconnResponse { .. } => id::SERVER_DISCONN,
            Obsolete { header, .. } => header.command,
        }
    }

    /// caproto's class name of the command (`"ReadNotifyRequest"`), as printed in log lines.
    pub fn name(&self) -> &'static str {
        use Command::*;
        match self {
            VersionRequest { .. } => "VersionRequest",
            VersionResponse { .. } => "VersionResponse",
            SearchRequest { .. } => "SearchRequest",
            SearchResponse { .. } => "SearchResponse",
            NotFoundResponse { .. } => "NotFoundResponse",
            EchoRequest => "EchoRequest",
            EchoResponse => "EchoResponse",
            Beacon { .. } => "Beacon",
            RepeaterRegisterRequest { .. } => "RepeaterRegisterRequest",
            RepeaterConfirmResponse { .. } => "RepeaterConfirmResponse",
            EventAddRequest { .. } => "EventAddRequest",
            EventAddResponse { .. } => "EventAddResponse",
            EventCancelRequest { .. } => "EventCancelRequest",
            EventCancelResponse { .. } => "EventCancelResponse",
            ReadRequest { .. } => "ReadRequest",
            ReadResponse { .. } => "ReadResponse",
            WriteRequest { .. } => "WriteRequest",
            EventsOffRequest => "EventsOffRequest",
            EventsOnRequest => "EventsOnRequest",
            ReadSyncRequest => "ReadSyncRequest",
            ErrorResponse { .. } => "ErrorResponse",
            ClearChannelRequest { .. } => "ClearChannelRequest",
            ClearChannelResponse { .. } => "ClearChannelResponse",
            ReadNotifyRequest { .. } => "ReadNotifyRequest",
            ReadNotifyResponse { .. } => "ReadNotifyResponse",
            CreateChanRequest { .. } => "CreateChanRequest",
            CreateChanResponse { .. } => "CreateChanResponse",
            WriteNotifyRequest { .. } => "WriteNotifyRequest",
            WriteNotifyResponse { .. } => "WriteNotifyResponse",
            ClientNameRequest { .. } => "ClientNameRequest",
            HostNameRequest { .. } => "HostNameRequest",
            AccessRightsResponse { .. } => "AccessRightsResponse",
            CreateChFailResponse { .. } => "CreateChFailResponse",
            ServerDisconnResponse { .. } => "ServerDisconnResponse",
            Obsolete { .. } => "Obsolete",
        }
    }

    /// Which way this command travels. [`Command::Beacon`] and [`Command::Obsolete`]
    /// travel either way and report [`Direction::Response`] (beacons come from servers).
    pub fn direction(&self) -> Direction {
        use Command::*;
        match self {
            VersionRequest { .. }
            | SearchRequest { .. }
            | EchoRequest
            | RepeaterRegisterRequest { .. }
            | EventAddRequest { .. }
            | EventCancelRequest { .. }
            | ReadRequest { .. }
            | WriteRequest { .. }
            | EventsOffRequest
            | EventsOnRequest
            | ReadSyncRequest
            | ClearChannelRequest { .. }
            | ReadNotifyRequest { .. }
            | CreateChanRequest { .. }
            | WriteNotifyRequest { .. }
            | ClientNameRequest { .. }
            | HostNameRequest { .. } => Direction::Request,
            _ => Direction::Response,
        }
    }
}
