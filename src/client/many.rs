//! Many channels in one call: [`Context::get_many`] and
//! [`Context::monitor_many`].
//!
//! An operator screen, an archiver or an alarm server holds thousands of
//! PVs. Driving each through its own task, future and queue costs a few
//! kilobytes and a wake-up per PV per update; these calls cost neither:
//! - `get_many` connects every name, and each circuit sends a channel's
//!   read as soon as it has created it (see [`super::batch`]); the replies
//!   are collected in order;
//! - `monitor_many` feeds every subscription into one shared queue (one
//!   lock, one wake-up, each PV's backlog still bounded on its own), and
//!   the subscriptions follow their channels through reconnects, re-chosen
//!   for the native type the server then reports.
//!
//! Results come back in the order of the names, and a PV that fails is
//! reported on its own, without failing the rest.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::batch::{BatchRead, ReadBatch, SlotPoll};
use super::channel::Channel;
use super::context::Context;
use super::error::ClientError;
use super::shared::{
    ChannelInfo, CircuitMsg, MonitorEvent, Reading, SetQueue, Sink, SubSpec, SubType,
};
use crate::proto::dbr::{DbrClass, DbrType};

/// What [`Context::monitor_many`] subscribes to on each PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSpec {
    /// The metadata each update carries (`DbrClass::Time` for a timestamp).
    pub class: DbrClass,
    /// Ask for enums as numbers (`DBR_ENUM`) instead of strings.
    pub enum_as_number: bool,
    /// Elements per update; `None` for the server's current count.
    pub count: Option<u32>,
    /// `DBE_*` event mask (see [`crate::proto::command::mask`]).
    pub mask: u16,
    /// Events one PV may have queued before its oldest are dropped.
    pub queue_per_pv: usize,
}

impl MonitorSpec {
    /// Native type with `class` metadata, enums as strings, the server's
    /// count, `mask`, and 128 queued events per PV.
    pub fn new(class: DbrClass, mask: u16) -> MonitorSpec {
        MonitorSpec {
            class,
            enum_as_number: false,
            count: None,
            mask,
            queue_per_pv: 128,
        }
    }
}

/// Subscriptions to many PVs, read through one queue
/// ([`Context::monitor_many`]). Dropping it cancels them all.
#[derive(Debug)]
pub struct MonitorSet {
    /// One entry per name; `None` where the name was refused.
    channels: Vec<Option<(Channel, u32)>>,
    queue: Arc<SetQueue>,
}

impl MonitorSet {
    /// Number of PVs in the set.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// Whether the set has no PV.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// The channel of PV `index`, unless its name was refused.
    pub fn channel(&self, index: usize) -> Option<&Channel> {
        self.channels.get(index)?.as_ref().map(|(ch, _)| ch)
    }

    /// Wait for events, then move up to `max` of them into `out` as
    /// `(index of the PV, event)`, oldest first. Returns false once the
    /// context is closed and nothing is left.
    pub async fn recv_many(&mut self, out: &mut Vec<(u32, MonitorEvent)>, max: usize) -> bool {
        let channels = &self.channels;
        let pv_name = |index: u32| {
            channels
                .get(index as usize)
                .and_then(|c| c.as_ref())
                .map(|(ch, _)| ch.name().to_string())
                .unwrap_or_default()
        };
        self.queue.pop_into(out, max.max(1), pv_name).await
    }

    /// Events dropped because the consumer fell behind (each PV's oldest first).
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for MonitorSet {
    fn drop(&mut self) {
        for (ch, subid) in self.channels.iter().flatten() {
            let shared = ch.shared();
            shared.subs().remove(subid);
            if let Some(conn) = shared.connection() {
                let _ = conn.circuit.send(CircuitMsg::Unsubscribe { subid: *subid });
            }
        }
    }
}

/// Reads in flight, yielded in order ([`Context::read_many`]).
#[derive(Debug)]
pub struct Readings {
    /// One entry per name: its channel (kept alive until the reads are
    /// dropped), or why the name was refused.
    channels: Vec<Result<Channel, Box<ClientError>>>,
    batch: Arc<ReadBatch>,
    /// The next index [`Readings::next`] yields.
    next: usize,
    /// A channel not connected by then gives [`ClientError::Timeout`].
    connect_deadline: Instant,
    timeout: Duration,
}

impl Readings {
    /// Number of results not yet taken.
    pub fn remaining(&self) -> usize {
        self.channels.len() - self.next
    }

    /// The next result in order; `None` when all were taken. A channel not
    /// connected within the timeout gives [`ClientError::Timeout`] (or
    /// what kept it from connecting), and a read not answered within a
    /// further timeout gives [`ClientError::NoReply`].
    pub async fn next(&mut self) -> Option<Result<Reading, ClientError>> {
        let i = self.next;
        let ch = match self.channels.get_mut(i)? {
            Ok(ch) => ch,
            Err(e) => {
                self.next += 1;
                return Some(Err(std::mem::replace(&mut **e, ClientError::Closed)));
            }
        };
        let index = i as u32;
        // Most results are in by the time they are asked for (replies come
        // in bursts): take one without a wake-up or a look at the clock.
        if let SlotPoll::Ready(result) = self.batch.poll(index) {
            self.next += 1;
            return Some(*result);
        }
        let result = loop {
            let notified = self.batch.notified();
            tokio::pin!(notified);
            // Registered before the slot is looked at, so no delivery is missed.
            notified.as_mut().enable();
            let now = Instant::now();
            let wake_at = match self.batch.poll(index) {
                SlotPoll::Ready(result) => break *result,
                SlotPoll::Taken => break Err(ClientError::Closed),
                SlotPoll::Connecting if now >= self.connect_deadline => {
                    self.batch.abandon(index);
                    break Err(ch.not_connected(self.timeout));
                }
                SlotPoll::Connecting => self.connect_deadline,
                SlotPoll::Sent => {
                    // Replies get `timeout` from when the last read went out
                    // (at the latest, from the connect deadline).
                    let sent = self
                        .batch
                        .all_sent_at()
                        .map(Instant::from_std)
                        .unwrap_or(self.connect_deadline)
                        .min(self.connect_deadline);
                    let read_deadline = sent + self.timeout;
                    if now >= read_deadline {
                        self.batch.abandon(index);
                        break Err(ClientError::NoReply {
                            pv: ch.name().to_string(),
                            timeout: self.timeout,
                        });
                    }
                    read_deadline
                }
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        };
        self.next += 1;
        Some(result)
    }
}

impl Context {
    /// Read many PVs: every name is searched for at once, every connected
    /// channel is read as `pick` chooses from its info (type, and count
    /// `None` for the server's), and the readings come back in `names`
    /// order. A name that does not connect within `timeout` gives
    /// [`ClientError::Timeout`]; a read not answered within a further
    /// `timeout` gives [`ClientError::NoReply`]; either fails only its PV.
    pub async fn get_many<S: AsRef<str>>(
        &self,
        names: &[S],
        pick: impl Fn(&ChannelInfo) -> (DbrType, Option<u32>) + Send + Sync + 'static,
        timeout: Duration,
    ) -> Vec<Result<Reading, ClientError>> {
        let mut readings = self.read_many(names, pick, timeout).await;
        let mut out = Vec::with_capacity(names.len());
        while let Some(r) = readings.next().await {
            out.push(r);
        }
        out
    }

    /// [`Context::get_many`], one reading at a time: [`Readings::next`]
    /// yields the results in `names` order as they arrive, so a caller can
    /// print (and drop) each large array before the next is held.
    ///
    /// Each channel's read is sent by its circuit in the same turn as the
    /// channel's creation is answered, while later names are still being
    /// searched for: the caller is not woken per channel, only as replies
    /// arrive.
    pub async fn read_many<S: AsRef<str>>(
        &self,
        names: &[S],
        pick: impl Fn(&ChannelInfo) -> (DbrType, Option<u32>) + Send + Sync + 'static,
        timeout: Duration,
    ) -> Readings {
        let connect_deadline = Instant::now() + timeout;
        let batch = ReadBatch::new(
            names.len(),
            Box::new(pick),
            self.shared.config.max_payload(),
        );
        let channels = self
            .make_channels(names, |index, name| {
                let read = BatchRead {
                    batch: batch.clone(),
                    index: index as u32,
                };
                self.channel_with(name, |shared| {
                    shared.subs().read_once = Some(read);
                })
                .map_err(|e| {
                    batch.abandon(index as u32);
                    Box::new(e)
                })
            })
            .await;
        Readings {
            channels,
            batch,
            next: 0,
            connect_deadline,
            timeout,
        }
    }

    /// Subscribe to many PVs at once, all feeding one queue. Each name is
    /// searched for (and searched for again after a disconnect, for as long
    /// as the set lives); on every connection its subscription is sent as
    /// `spec` says, for the native type the server reports then. Events for
    /// PV `i` (its index in `names`) are [`MonitorEvent::Connected`],
    /// [`MonitorEvent::Update`] and [`MonitorEvent::Disconnected`]; a name
    /// the client refuses gives one `Update(Err(..))` at once.
    pub fn monitor_many<S: AsRef<str>>(&self, names: &[S], spec: MonitorSpec) -> MonitorSet {
        let queue = SetQueue::new(names.len(), spec.queue_per_pv);
        self.reserve_channels(names.len());
        let mut channels = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let index = index as u32;
            let ch = match self.channel(name.as_ref()) {
                Ok(ch) => ch,
                Err(e) => {
                    queue.push(index, MonitorEvent::Update(Err(e)));
                    channels.push(None);
                    continue;
                }
            };
            let subid = self.shared.next_subid();
            let shared = ch.shared();
            shared.subs().insert(
                subid,
                SubSpec {
                    request: SubType::Native {
                        class: spec.class,
                        enum_as_number: spec.enum_as_number,
                    },
                    count: spec.count.unwrap_or(0),
                    mask: spec.mask,
                    sink: Sink::Set {
                        queue: queue.clone(),
                        index,
                    },
                },
            );
            // As in `Channel::subscribe`: insert first, then look at the state.
            if let Some(conn) = shared.connection() {
                let _ = conn.circuit.send(CircuitMsg::Subscribe {
                    cid: shared.cid,
                    subid,
                });
            }
            channels.push(Some((ch, subid)));
        }
        MonitorSet { channels, queue }
    }
}
