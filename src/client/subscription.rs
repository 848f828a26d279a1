//! [`Subscription`]: a receiver of monitor updates, and the bounded queue
//! the circuit task feeds it through.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::channel::{Channel, ChannelShared, Reading};
use super::circuit_task::CircuitMsg;
use super::error::ClientError;

/// A bounded queue of updates. When the consumer falls behind, the oldest
/// updates are dropped (and counted), so memory stays bounded and the newest
/// value is always delivered, as EPICS' event queue does.
#[derive(Debug)]
pub(crate) struct SubQueue {
    items: Mutex<VecDeque<Result<Reading, ClientError>>>,
    capacity: usize,
    notify: Notify,
    closed: AtomicBool,
    dropped: AtomicU64,
}

impl SubQueue {
    pub(crate) fn new(capacity: usize) -> Arc<SubQueue> {
        Arc::new(SubQueue {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Result<Reading, ClientError>>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue one update (or error), dropping the oldest when full.
    pub(crate) fn push(&self, item: Result<Reading, ClientError>) {
        {
            let mut q = self.lock();
            if q.len() >= self.capacity {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(item);
        }
        self.notify.notify_one();
    }

    /// No more updates will come (context closed).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    async fn pop(&self) -> Option<Result<Reading, ClientError>> {
        loop {
            if let Some(item) = self.lock().pop_front() {
                return Some(item);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            self.notify.notified().await;
        }
    }
}

/// A live subscription. Receive updates with [`Subscription::recv`]; drop it
/// to cancel on the server.
///
/// Besides `Ok(update)`, it yields `Err(ClientError::Disconnected)` when the
/// channel's circuit is lost (updates resume after the automatic reconnect)
/// and `Err(ClientError::Server)` when the server refuses the subscription.
#[derive(Debug)]
pub struct Subscription {
    shared: Arc<ChannelShared>,
    subid: u32,
    queue: Arc<SubQueue>,
    channel: Channel,
}

impl Subscription {
    pub(crate) fn new(
        shared: Arc<ChannelShared>,
        subid: u32,
        queue: Arc<SubQueue>,
        channel: Channel,
    ) -> Subscription {
        Subscription {
            shared,
            subid,
            queue,
            channel,
        }
    }

    /// The next update; `None` once the context is closed.
    pub async fn recv(&mut self) -> Option<Result<Reading, ClientError>> {
        self.queue.pop().await
    }

    /// The channel this subscription is on.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// How many updates were discarded because the consumer fell behind.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Remove first, then look at the state (mirror of `Channel::subscribe`),
        // so a circuit that connects concurrently either never sends the
        // EVENT_ADD or receives this cancel.
        self.shared.subs().remove(&self.subid);
        if let Some(conn) = self.shared.connection() {
            let _ = conn.circuit.send(CircuitMsg::Unsubscribe {
                cid: self.shared.cid,
                subid: self.subid,
            });
        }
    }
}
