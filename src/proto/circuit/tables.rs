//! The per-circuit bookkeeping: channels (by cid, indexed by sid), pending
//! read/write ioids and subscriptions, and the rules that update them for each
//! command, whichever side sent it.

use std::sync::Arc;

use super::error::Violation;
use crate::proto::command::{id, AccessRights};
use crate::proto::dbr::DbrType;
use crate::proto::ids::IdMap;
use crate::proto::{command::Command, Role};

/// Life cycle of one channel on a circuit. Closed or failed channels are
/// removed from the circuit, so they have no state here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelState {
    /// CreateChanRequest sent (client) / received (server); no CreateChanResponse yet.
    CreateRequested,
    /// CreateChanResponse seen: the channel has a sid and accepts I/O.
    Connected,
    /// ClearChannelRequest seen; in-flight responses are still accepted until
    /// the ClearChannelResponse removes the channel.
    ClearRequested,
}

/// What the circuit knows about one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// The PV name from CreateChanRequest (shared, so log records can carry it cheaply).
    pub name: Arc<str>,
    /// Client-chosen channel id.
    pub cid: u32,
    /// Server-chosen id, known once connected.
    pub sid: Option<u32>,
    /// Where the channel is in its life cycle.
    pub state: ChannelState,
    /// Native type from CreateChanResponse.
    pub native_type: Option<DbrType>,
    /// Native element count from CreateChanResponse.
    pub native_count: u32,
    /// Last AccessRightsResponse, if any.
    pub access_rights: Option<AccessRights>,
}

/// The kind of request an ioid is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoKind {
    /// ReadNotifyRequest (or obsolete ReadRequest).
    Read,
    /// WriteNotifyRequest.
    Write,
}

/// A read or write-notify awaiting its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PendingIo {
    /// Channel the request was made on.
    pub cid: u32,
    /// Read or write.
    pub kind: IoKind,
    /// Element count asked for (0 = the server's current count, at most the
    /// channel's declared count); a read reply may not carry more.
    pub count: u32,
}

/// Whether a subscription is live or being cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// EventAddRequest seen; updates flow.
    Active,
    /// EventCancelRequest seen; updates may still arrive until the cancel is confirmed.
    CancelRequested,
}

/// One subscription (EventAddRequest) on the circuit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Subscription {
    /// Channel it belongs to.
    pub cid: u32,
    /// That channel's sid.
    pub sid: u32,
    /// Requested DBR type.
    pub data_type: DbrType,
    /// Requested element count (0 = server's current length).
    pub data_count: u32,
    /// `DBE_*` event mask.
    pub mask: u16,
    /// Live or being cancelled.
    pub state: SubscriptionState,
}

/// All per-channel state of a circuit.
///
/// Every table is keyed by id, and `owned` indexes the ioids and
/// subscriptions of each channel, so nothing here costs more with more
/// channels: clearing one channel touches only what that channel owns.
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub channels: IdMap<Channel>,
    pub sids: IdMap<u32>,
    pub ioids: IdMap<PendingIo>,
    pub subs: IdMap<Subscription>,
    /// cid -> its pending ioids and subscription ids (absent when it has none).
    owned: IdMap<Owned>,
}

/// The ids one channel owns besides its own.
#[derive(Debug, Default)]
struct Owned {
    ioids: Ids,
    subs: Ids,
}

/// A short list of ids: a channel has at most one pending request and one
/// subscription most of the time, and those cost no allocation. The rare
/// longer list is boxed, so the two lists of every channel take 32 bytes,
/// not 64 (the table of 10 000 channels: 0.5 MB less).
#[derive(Debug, Default)]
enum Ids {
    #[default]
    None,
    One(u32),
    // Boxed on purpose: the size of the common case is what matters here.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<u32>>),
}

impl Ids {
    fn push(&mut self, id: u32) {
        *self = match std::mem::take(self) {
            Ids::None => Ids::One(id),
            Ids::One(first) => Ids::Many(Box::new(vec![first, id])),
            Ids::Many(mut list) => {
                list.push(id);
                Ids::Many(list)
            }
        };
    }

    /// Remove `id` (order does not matter).
    fn remove(&mut self, id: u32) {
        match self {
            Ids::One(only) if *only == id => *self = Ids::None,
            Ids::Many(list) => {
                if let Some(pos) = list.iter().position(|x| *x == id) {
                    list.swap_remove(pos);
                }
                if list.is_empty() {
                    *self = Ids::None;
                }
            }
            _ => {}
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Ids::None => &[],
            Ids::One(id) => std::slice::from_ref(id),
            Ids::Many(list) => list.as_slice(),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Ids::None)
    }
}

/// Which role may send `cmd` on a circuit; `None` for UDP-only and obsolete commands.
pub(super) fn sender_of(cmd: &Command) -> Option<Role> {
    use Command::*;
    Some(match cmd {
        VersionRequest { .. }
        | SearchRequest { .. }
        | EchoRequest
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
        | HostNameRequest { .. } => Role::Client,
        VersionResponse { .. }
        | SearchResponse { .. }
        | NotFoundResponse { .. }
        | EchoResponse
        | EventAddResponse { .. }
        | EventCancelResponse { .. }
        | ReadResponse { .. }
        | ErrorResponse { .. }
        | ClearChannelResponse { .. }
        | ReadNotifyResponse { .. }
        | CreateChanResponse { .. }
        | WriteNotifyResponse { .. }
        | AccessRightsResponse { .. }
        | CreateChFailResponse { .. }
        | ServerDisconnResponse { .. } => Role::Server,
        Beacon { .. }
        | RepeaterRegisterRequest { .. }
        | RepeaterConfirmResponse { .. }
        | Obsolete { .. } => return None,
    })
}

impl Tables {
    /// The PV name a command refers to, if the circuit knows it.
    pub fn pv_of(&self, cmd: &Command) -> Option<Arc<str>> {
        use Command::*;
        let cid = match cmd {
            CreateChanRequest { name, .. } => return Some(Arc::from(name.as_str())),
            CreateChanResponse { cid, .. }
            | ClearChannelRequest { cid, .. }
            | ClearChannelResponse { cid, .. }
            | AccessRightsResponse { cid, .. }
            | CreateChFailResponse { cid }
            | ServerDisconnResponse { cid }
            | ErrorResponse { cid, .. } => *cid,
            ReadNotifyRequest { sid, .. }
            | ReadRequest { sid, .. }
            | WriteRequest { sid, .. }
            | WriteNotifyRequest { sid, .. }
            | EventAddRequest { sid, .. }
            | EventCancelRequest { sid, .. }
            | EventCancelResponse { sid, .. } => return self.name_of_sid(*sid),
            ReadNotifyResponse { ioid, .. }
            | ReadResponse { ioid, .. }
            | WriteNotifyResponse { ioid, .. } => self.ioids.get(ioid)?.cid,
            EventAddResponse { subscriptionid, .. } => self.subs.get(subscriptionid)?.cid,
            _ => return None,
        };
        self.channels.get(&cid).map(|c| Arc::clone(&c.name))
    }

    /// The channel a reply's ioid or subscription id (or the request an
    /// ERROR answers) belongs to, while the tables still know the id.
    pub fn owner_of(&self, cmd: &Command) -> Option<u32> {
        use Command::*;
        match cmd {
            ReadNotifyResponse { ioid, .. }
            | ReadResponse { ioid, .. }
            | WriteNotifyResponse { ioid, .. } => Some(self.ioids.get(ioid)?.cid),
            EventAddResponse { subscriptionid, .. } => Some(self.subs.get(subscriptionid)?.cid),
            ErrorResponse {
                original_request, ..
            } => {
                let p2 = original_request.parameter2;
                match original_request.command {
                    id::READ_NOTIFY | id::READ | id::WRITE_NOTIFY => Some(self.ioids.get(&p2)?.cid),
                    id::EVENT_ADD => Some(self.subs.get(&p2)?.cid),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The PV name of the channel with server id `sid`, if the circuit knows it.
    pub fn name_of_sid(&self, sid: u32) -> Option<Arc<str>> {
        let cid = self.sids.get(&sid)?;
        self.channels.get(cid).map(|c| Arc::clone(&c.name))
    }

    /// A CREATE_CHAN for `cid` went out or came in: the channel is being created.
    pub fn add_channel(&mut self, name: Arc<str>, cid: u32) -> Result<(), Violation> {
        if self.channels.contains_key(&cid) {
            return Err(Violation::DuplicateCid(cid));
        }
        self.channels.insert(
            cid,
            Channel {
                name,
                cid,
                sid: None,
                state: ChannelState::CreateRequested,
                native_type: None,
                native_count: 0,
                access_rights: None,
            },
        );
        Ok(())
    }

    /// Validate a channel-level command and update the tables. `received` is
    /// true when the peer sent it (a few late messages are tolerated then).
    pub fn apply(&mut self, cmd: &Command, received: bool) -> Result<(), Violation> {
        use Command::*;
        match cmd {
            CreateChanRequest { name, cid, .. } => {
                self.add_channel(Arc::from(name.as_str()), *cid)?;
            }
            AccessRightsResponse { cid, access_rights } => {
                self.channel_mut(*cid)?.access_rights = Some(*access_rights);
            }
            CreateChanResponse {
                data_type,
                data_count,
                cid,
                sid,
            } => {
                let chan = self.channel_in(*cid, ChannelState::CreateRequested)?;
                if self.sids.contains_key(sid) {
                    return Err(Violation::DuplicateSid(*sid));
                }
                let chan = self
                    .channels
                    .get_mut(&chan)
                    .ok_or(Violation::UnknownCid(*cid))?;
                chan.state = ChannelState::Connected;
                chan.sid = Some(*sid);
                chan.native_type = Some(*data_type);
                chan.native_count = *data_count;
                self.sids.insert(*sid, *cid);
            }
            CreateChFailResponse { cid } => {
                self.channel_in(*cid, ChannelState::CreateRequested)?;
                self.remove_channel(*cid);
            }
            ServerDisconnResponse { cid } => {
                self.channel_mut(*cid)?;
                self.remove_channel(*cid);
            }
            ClearChannelRequest { sid, cid } => {
                self.channel_in(*cid, ChannelState::Connected)?;
                if self.sids.get(sid) != Some(cid) {
                    return Err(Violation::UnknownSid(*sid));
                }
                self.channel_mut(*cid)?.state = ChannelState::ClearRequested;
            }
            ClearChannelResponse { cid, .. } => {
                self.channel_in(*cid, ChannelState::ClearRequested)?;
                self.remove_channel(*cid);
            }
            ReadNotifyRequest {
                sid,
                ioid,
                data_count,
                ..
            }
            | ReadRequest {
                sid,
                ioid,
                data_count,
                ..
            } => self.start_io(*sid, *ioid, IoKind::Read, *data_count)?,
            WriteNotifyRequest {
                sid,
                ioid,
                data_count,
                ..
            } => self.start_io(*sid, *ioid, IoKind::Write, *data_count)?,
            WriteRequest { sid, .. } => {
                self.connected_by_sid(*sid)?;
            }
            ReadNotifyResponse { ioid, .. } | ReadResponse { ioid, .. } => {
                self.finish_io(*ioid, IoKind::Read)?
            }
            WriteNotifyResponse { ioid, .. } => self.finish_io(*ioid, IoKind::Write)?,
            EventAddRequest {
                data_type,
                data_count,
                sid,
                subscriptionid,
                mask,
                ..
            } => {
                let cid = self.connected_by_sid(*sid)?;
                if self.subs.contains_key(subscriptionid) {
                    return Err(Violation::DuplicateSubscription(*subscriptionid));
                }
                self.add_sub(
                    *subscriptionid,
                    Subscription {
                        cid,
                        sid: *sid,
                        data_type: *data_type,
                        data_count: *data_count,
                        mask: *mask,
                        state: SubscriptionState::Active,
                    },
                );
            }
            EventAddResponse {
                data_type,
                subscriptionid,
                data,
                ..
            } => match self.subs.get(subscriptionid) {
                Some(sub) if sub.data_type != *data_type => {
                    return Err(Violation::SubscriptionMismatch(*subscriptionid))
                }
                Some(_) => {}
                // A late, empty update for a subscription already gone is a
                // cancel confirmation that crossed our bookkeeping: harmless.
                None if received && data.is_empty() => {}
                None => return Err(Violation::UnknownSubscription(*subscriptionid)),
            },
            EventCancelRequest {
                data_type,
                sid,
                subscriptionid,
                ..
            } => {
                let sub = self
                    .subs
                    .get_mut(subscriptionid)
                    .filter(|s| s.state == SubscriptionState::Active)
                    .ok_or(Violation::UnknownSubscription(*subscriptionid))?;
                if sub.sid != *sid || sub.data_type != *data_type {
                    return Err(Violation::SubscriptionMismatch(*subscriptionid));
                }
                sub.state = SubscriptionState::CancelRequested;
            }
            EventCancelResponse {
                sid,
                subscriptionid,
                ..
            } => match self.subs.get(subscriptionid) {
                Some(sub) if sub.sid != *sid => {
                    return Err(Violation::SubscriptionMismatch(*subscriptionid))
                }
                Some(_) => {
                    self.remove_sub(*subscriptionid);
                }
                // EPICS' RSRV may confirm a cancel after the channel is cleared.
                None if received => {}
                None => return Err(Violation::UnknownSubscription(*subscriptionid)),
            },
            ErrorResponse {
                original_request, ..
            } => {
                // The failed request will get no other answer: forget what it started.
                let (p1, p2) = (original_request.parameter1, original_request.parameter2);
                match original_request.command {
                    id::READ_NOTIFY | id::READ | id::WRITE_NOTIFY => {
                        self.remove_io(p2);
                    }
                    id::EVENT_ADD if self.subs.get(&p2).is_some_and(|s| s.sid == p1) => {
                        self.remove_sub(p2);
                    }
                    id::CREATE_CHAN
                        if self
                            .channels
                            .get(&p1)
                            .is_some_and(|c| c.state == ChannelState::CreateRequested) =>
                    {
                        self.remove_channel(p1);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn channel_mut(&mut self, cid: u32) -> Result<&mut Channel, Violation> {
        self.channels
            .get_mut(&cid)
            .ok_or(Violation::UnknownCid(cid))
    }

    /// The cid, if the channel exists and is in `state`.
    fn channel_in(&self, cid: u32, state: ChannelState) -> Result<u32, Violation> {
        let chan = self.channels.get(&cid).ok_or(Violation::UnknownCid(cid))?;
        if chan.state != state {
            return Err(Violation::BadChannelState {
                cid,
                state: chan.state,
            });
        }
        Ok(cid)
    }

    /// The cid of the connected channel with this sid, if there is one.
    pub fn connected_sid(&self, sid: u32) -> Option<u32> {
        self.connected_by_sid(sid).ok()
    }

    /// The cid of the connected channel with this sid.
    fn connected_by_sid(&self, sid: u32) -> Result<u32, Violation> {
        let cid = *self.sids.get(&sid).ok_or(Violation::UnknownSid(sid))?;
        self.channel_in(cid, ChannelState::Connected)
    }

    fn start_io(&mut self, sid: u32, ioid: u32, kind: IoKind, count: u32) -> Result<(), Violation> {
        let cid = self.connected_by_sid(sid)?;
        if self.ioids.contains_key(&ioid) {
            return Err(Violation::DuplicateIoid(ioid));
        }
        self.ioids.insert(ioid, PendingIo { cid, kind, count });
        self.owned.entry(cid).or_default().ioids.push(ioid);
        Ok(())
    }

    fn finish_io(&mut self, ioid: u32, kind: IoKind) -> Result<(), Violation> {
        match self.ioids.get(&ioid) {
            Some(p) if p.kind == kind => {
                self.remove_io(ioid);
                Ok(())
            }
            _ => Err(Violation::UnknownIoid(ioid)),
        }
    }

    fn remove_io(&mut self, ioid: u32) {
        if let Some(io) = self.ioids.remove(&ioid) {
            self.unown(io.cid, |o| o.ioids.remove(ioid));
        }
    }

    fn add_sub(&mut self, subscriptionid: u32, sub: Subscription) {
        self.owned
            .entry(sub.cid)
            .or_default()
            .subs
            .push(subscriptionid);
        self.subs.insert(subscriptionid, sub);
    }

    fn remove_sub(&mut self, subscriptionid: u32) {
        if let Some(sub) = self.subs.remove(&subscriptionid) {
            self.unown(sub.cid, |o| o.subs.remove(subscriptionid));
        }
    }

    /// Change what `cid` owns, dropping its record once it owns nothing.
    fn unown(&mut self, cid: u32, change: impl FnOnce(&mut Owned)) {
        if let Some(owned) = self.owned.get_mut(&cid) {
            change(owned);
            if owned.ioids.is_empty() && owned.subs.is_empty() {
                self.owned.remove(&cid);
            }
        }
    }

    /// Drop a channel with everything that refers to it (only what it owns
    /// is visited).
    pub fn remove_channel(&mut self, cid: u32) {
        if let Some(chan) = self.channels.remove(&cid) {
            if let Some(sid) = chan.sid {
                self.sids.remove(&sid);
            }
            if let Some(owned) = self.owned.remove(&cid) {
                for ioid in owned.ioids.as_slice() {
                    self.ioids.remove(ioid);
                }
                for subid in owned.subs.as_slice() {
                    self.subs.remove(subid);
                }
            }
        }
    }

    /// The pending ioids and subscription ids of channel `cid`.
    pub fn owned_by(&self, cid: u32) -> (&[u32], &[u32]) {
        match self.owned.get(&cid) {
            Some(o) => (o.ioids.as_slice(), o.subs.as_slice()),
            None => (&[], &[]),
        }
    }
}
