//! What a command received by a client means, with its ids resolved.
//!
//! A reply names its request by an id the client chose (an ioid, a
//! subscription id) and the circuit's tables know which channel that id
//! belongs to, until the reply retires it. [`VirtualCircuit::next_client_event`]
//! resolves the id before the tables forget it and hands the shell a
//! [`ClientEvent`] that says, in the channel's terms, what happened. The
//! shell then needs no tables of its own: it only maps cids and ioids to the
//! callers waiting on them (quinn-proto's `Connection::poll` works the same
//! way).
//!
//! [`VirtualCircuit::next_client_event`]: super::VirtualCircuit::next_client_event

use crate::proto::command::Command;
use crate::proto::command::{id, AccessRights};
use crate::proto::dbr::DbrType;

/// One received command, as it concerns a client's channels.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// CREATE_CHAN was answered: channel `cid` is connected as `sid`.
    ChannelCreated {
        /// Our channel id.
        cid: u32,
        /// The server's id for it.
        sid: u32,
        /// The field's native type.
        native_type: DbrType,
        /// The field's element count.
        count: u32,
    },
    /// The server refused to create channel `cid` (CREATE_CH_FAIL).
    CreateFailed {
        /// Our channel id.
        cid: u32,
    },
    /// The server (re)stated channel `cid`'s access rights.
    AccessChanged {
        /// Our channel id.
        cid: u32,
        /// The rights now granted.
        rights: AccessRights,
    },
    /// The server dropped channel `cid` (SERVER_DISCONN); it may come back.
    ChannelDropped {
        /// Our channel id.
        cid: u32,
    },
    /// A READ_NOTIFY of channel `cid` was answered.
    ReadReply {
        /// The request's id.
        ioid: u32,
        /// The channel it was made on.
        cid: u32,
        /// ECA status (success or the server's reason).
        status: u32,
        /// The type the payload is in.
        data_type: DbrType,
        /// Elements in the payload.
        count: u32,
        /// The DBR payload.
        data: Vec<u8>,
    },
    /// A WRITE_NOTIFY of channel `cid` completed.
    WriteReply {
        /// The request's id.
        ioid: u32,
        /// The channel it was made on.
        cid: u32,
        /// ECA status.
        status: u32,
    },
    /// An update of subscription `subscriptionid` of channel `cid`.
    Update {
        /// The subscription.
        subscriptionid: u32,
        /// Its channel.
        cid: u32,
        /// ECA status.
        status: u32,
        /// The type the payload is in.
        data_type: DbrType,
        /// Elements in the payload.
        count: u32,
        /// The DBR payload.
        data: Vec<u8>,
    },
    /// The server refused one of our requests (CA_PROTO_ERROR).
    Refused {
        /// Which request, as far as the circuit could tell.
        request: RefusedRequest,
        /// ECA status.
        status: u32,
        /// The server's words, possibly empty.
        message: String,
    },
    /// The server asks whether we are alive: answer with an EchoResponse.
    EchoRequested,
    /// Nothing a channel needs to hear of (version, echo reply, cancel or
    /// clear confirmations, and commands a client does not act on).
    Other(Command),
}

/// The request an ERROR answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusedRequest {
    /// A READ_NOTIFY or WRITE_NOTIFY.
    Io {
        /// The request's id.
        ioid: u32,
        /// Its channel, if the circuit still knew the ioid.
        cid: Option<u32>,
    },
    /// An EVENT_ADD.
    Subscription {
        /// The subscription.
        subscriptionid: u32,
        /// Its channel, if known.
        cid: Option<u32>,
    },
    /// A CREATE_CHAN.
    Create {
        /// The channel.
        cid: u32,
    },
    /// Any other command.
    Other {
        /// Its command code.
        command: u16,
    },
}

impl ClientEvent {
    /// The event for `cmd`; `owner` is the channel its ioid or subscription
    /// id belonged to before the command was applied (if it had one).
    pub(super) fn from_command(cmd: Command, owner: Option<u32>) -> ClientEvent {
        use Command::*;
        match (cmd, owner) {
            (
                CreateChanResponse {
                    data_type,
                    data_count,
                    cid,
                    sid,
                },
                _,
            ) => ClientEvent::ChannelCreated {
                cid,
                sid,
                native_type: data_type,
                count: data_count,
            },
            (CreateChFailResponse { cid }, _) => ClientEvent::CreateFailed { cid },
            (AccessRightsResponse { cid, access_rights }, _) => ClientEvent::AccessChanged {
                cid,
                rights: access_rights,
            },
            (ServerDisconnResponse { cid }, _) => ClientEvent::ChannelDropped { cid },
            (
                ReadNotifyResponse {
                    data,
                    data_type,
                    data_count,
                    status,
                    ioid,
                },
                Some(cid),
            ) => ClientEvent::ReadReply {
                ioid,
                cid,
                status,
                data_type,
                count: data_count,
                data,
            },
            (WriteNotifyResponse { status, ioid, .. }, Some(cid)) => {
                ClientEvent::WriteReply { ioid, cid, status }
            }
            (
                EventAddResponse {
                    data,
                    data_type,
                    data_count,
                    status,
                    subscriptionid,
                },
                Some(cid),
            ) => ClientEvent::Update {
                subscriptionid,
                cid,
                status,
                data_type,
                count: data_count,
                data,
            },
            (
                ErrorResponse {
                    original_request,
                    cid,
                    status,
                    error_message,
                },
                owner,
            ) => {
                let p2 = original_request.parameter2;
                let request = match original_request.command {
                    id::READ_NOTIFY | id::WRITE_NOTIFY => RefusedRequest::Io {
                        ioid: p2,
                        cid: owner,
                    },
                    id::EVENT_ADD => RefusedRequest::Subscription {
                        subscriptionid: p2,
                        cid: owner,
                    },
                    id::CREATE_CHAN => RefusedRequest::Create { cid },
                    command => RefusedRequest::Other { command },
                };
                ClientEvent::Refused {
                    request,
                    status,
                    message: error_message,
                }
            }
            (EchoRequest, _) => ClientEvent::EchoRequested,
            (other, _) => ClientEvent::Other(other),
        }
    }
}
