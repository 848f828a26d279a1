//! Shipping records to a collector (Logstash, Vector, Fluent Bit, syslog-ng, rsyslog) without
//! ever blocking the thread that logs.
//!
//! The logging thread formats a record and pushes the bytes onto a bounded queue (one short
//! mutex section, no I/O); a background thread owned by the handler takes everything queued,
//! frames it for the protocol and writes it in one go. When the collector is unreachable or
//! stops reading, the writer reconnects with exponential back-off (0.1 s doubling to 5 s) while
//! the queue fills; once the queue is full, new records are **dropped and counted**, never
//! waited for. The count is logged (target `caproto::log`, WARN) when the collector is back,
//! and at exit ([`super::finish`]) after a bounded wait for what is still queued.
//!
//! ```text
//!  logging thread ──push──▶ [ bounded queue ] ──batch──▶ writer thread ──▶ collector
//!        │ full?                                           │ error / peer closed
//!        └──▶ dropped += 1                                 └──▶ back-off, reconnect, retry batch
//! ```

mod conn;
mod target;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

pub use target::{Endpoint, ShipProtocol, ShipTarget};

use conn::Conn;

/// Default number of records a shipping queue holds before dropping.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

/// Default bound on how long a flush (and the flush at exit) waits for the queue to drain.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long the writer lets records accumulate after being woken, so a burst goes out in one
/// write and one wake-up instead of one per record.
const LINGER: Duration = Duration::from_millis(2);

/// Counters of one shipping handler, from [`super::Handler::ship_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShipStats {
    /// Records handed to the collector's socket.
    pub sent: u64,
    /// Records dropped because the queue was full, or refused by a datagram socket.
    pub dropped: u64,
    /// Records waiting in the queue or in the writer's hands.
    pub pending: u64,
    /// Whether the writer currently holds a connection.
    pub connected: bool,
    /// Connections made after the first one.
    pub reconnects: u64,
}

struct State {
    queue: VecDeque<Vec<u8>>,
    /// Records the writer has taken but not yet delivered.
    in_flight: usize,
    /// The writer sleeps on `work` and needs a notify.
    writer_waiting: bool,
    closed: bool,
}

struct Shared {
    target: ShipTarget,
    capacity: usize,
    state: Mutex<State>,
    work: Condvar,
    idle: Condvar,
    sent: AtomicU64,
    dropped: AtomicU64,
    connected: AtomicBool,
    /// The writer knows the collector is unreachable: flushing would only wait in vain.
    in_outage: AtomicBool,
    reconnects: AtomicU64,
}

/// Something the writer wants logged. The writer never logs itself: a terminal handler may
/// block on standard error's lock (a tool can hold it for its whole run), and the writer must
/// never block on anything but its own socket. A small notice thread logs these instead.
enum Notice {
    Outage { why: String, capacity: usize },
    Reconnected { dropped: u64 },
}

/// Extra queue room for the notice thread's own records, so the collector learns about an
/// outage and its drops even when the queue is full.
const NOTICE_ROOM: usize = 16;

thread_local! {
    static ON_NOTICE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn notice_thread(target: ShipTarget, rx: Receiver<Notice>) {
    ON_NOTICE_THREAD.with(|c| c.set(true));
    for n in rx {
        match n {
            Notice::Outage { why, capacity } => {
                tracing::warn!(target: "caproto::log", destination = %target,
                    "log shipping: collector unreachable ({why}); queueing up to {capacity} records and retrying")
            }
            Notice::Reconnected { dropped } => {
                tracing::warn!(target: "caproto::log", destination = %target, dropped,
                    "log shipping reconnected; {dropped} records dropped while the collector was unreachable")
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }
}

/// The queue and background writer of one shipping handler. Dropping it closes the queue; the
/// writer delivers what it can and ends on its own (it is never joined, so dropping never
/// blocks).
pub(crate) struct Shipper {
    shared: Arc<Shared>,
    /// `sent` when a flush last timed out: if nothing was sent since, the next flush does not
    /// wait again (exit paths flush several times; a stuck collector must cost one timeout).
    stalled_at: AtomicU64,
}

const NOT_STALLED: u64 = u64::MAX;

impl Shipper {
    /// Starts the writer thread. Nothing is connected yet: an unreachable collector at start-up
    /// is an outage like any other, not a configuration error.
    pub fn start(target: ShipTarget, capacity: usize) -> std::io::Result<Shipper> {
        let shared = Arc::new(Shared {
            target,
            capacity: capacity.max(1),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                in_flight: 0,
                writer_waiting: false,
                closed: false,
            }),
            work: Condvar::new(),
            idle: Condvar::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            in_outage: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::sync_channel(16);
        let t = shared.target.clone();
        thread::Builder::new()
            .name("caproto-log-notice".into())
            .spawn(move || notice_thread(t, rx))?;
        let w = Arc::clone(&shared);
        thread::Builder::new()
            .name("caproto-log-ship".into())
            .spawn(move || Writer::new(w, tx).run())?;
        Ok(Shipper {
            shared,
            stalled_at: AtomicU64::new(NOT_STALLED),
        })
    }

    /// The destination, for messages.
    pub fn target(&self) -> &ShipTarget {
        &self.shared.target
    }

    /// Queues one formatted record, or counts it as dropped if the queue is full. Never blocks
    /// on I/O.
    pub fn push(&self, record: &[u8]) {
        let mut st = self.shared.lock();
        if st.closed
            || (st.queue.len() >= self.shared.capacity
                && (st.queue.len() >= self.shared.capacity + NOTICE_ROOM
                    || !ON_NOTICE_THREAD.with(|c| c.get())))
        {
            drop(st);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.queue.push_back(record.to_vec());
        if st.writer_waiting {
            st.writer_waiting = false;
            drop(st);
            self.shared.work.notify_one();
        }
    }

    /// Waits until everything queued has been handed to the collector, at most `timeout`, and
    /// not at all while the collector is known to be unreachable. Returns whether the queue
    /// drained.
    pub fn flush(&self, timeout: Duration) -> bool {
        let sent = self.shared.sent.load(Ordering::Relaxed);
        let timeout = if self.stalled_at.load(Ordering::Relaxed) == sent {
            Duration::ZERO
        } else {
            timeout
        };
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if st.queue.is_empty() && st.in_flight == 0 {
                return true;
            }
            if self.shared.in_outage.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                self.stalled_at
                    .store(self.shared.sent.load(Ordering::Relaxed), Ordering::Relaxed);
                return false;
            }
            if st.writer_waiting {
                st.writer_waiting = false;
                self.shared.work.notify_one();
            }
            st = self
                .shared
                .idle
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Current counters.
    pub fn stats(&self) -> ShipStats {
        let pending = {
            let st = self.shared.lock();
            (st.queue.len() + st.in_flight) as u64
        };
        ShipStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            pending,
            connected: self.shared.connected.load(Ordering::Relaxed),
            reconnects: self.shared.reconnects.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

/// The background thread's state.
struct Writer {
    shared: Arc<Shared>,
    conn: Option<Conn>,
    batch: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    backoff: Duration,
    /// Set during an outage: the dropped count when it began.
    outage: Option<u64>,
    ever_connected: bool,
    notices: SyncSender<Notice>,
}

impl Writer {
    fn new(shared: Arc<Shared>, notices: SyncSender<Notice>) -> Writer {
        Writer {
            shared,
            notices,
            conn: None,
            batch: Vec::new(),
            scratch: Vec::new(),
            backoff: MIN_BACKOFF,
            outage: None,
            ever_connected: false,
        }
    }

    fn run(mut self) {
        loop {
            if self.batch.is_empty() && !self.take_batch() {
                return;
            }
            if !self.ensure_connected() {
                if !self.back_off() {
                    // Closed while the collector is unreachable: give up on what is left.
                    let mut st = self.shared.lock();
                    let lost = self.batch.len() + st.queue.len();
                    st.queue.clear();
                    st.in_flight = 0;
                    drop(st);
                    self.shared
                        .dropped
                        .fetch_add(lost as u64, Ordering::Relaxed);
                    self.shared.idle.notify_all();
                    return;
                }
                continue;
            }
            self.deliver();
        }
    }

    /// Waits for records; returns false once the queue is closed and empty.
    fn take_batch(&mut self) -> bool {
        let mut st = self.shared.lock();
        while st.queue.is_empty() {
            st.in_flight = 0;
            self.shared.idle.notify_all();
            if st.closed {
                return false;
            }
            st.writer_waiting = true;
            st = self.shared.work.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.writer_waiting = false;
        if !st.closed {
            drop(st);
            thread::sleep(LINGER);
            st = self.shared.lock();
        }
        self.batch.extend(st.queue.drain(..));
        st.in_flight = self.batch.len();
        true
    }

    fn ensure_connected(&mut self) -> bool {
        if self.conn.as_ref().is_some_and(Conn::peer_closed) {
            self.lost_connection("the collector closed the connection");
        }
        if self.conn.is_some() {
            return true;
        }
        match Conn::open(&self.shared.target) {
            Ok(c) => {
                self.conn = Some(c);
                self.shared.connected.store(true, Ordering::Relaxed);
                if self.ever_connected {
                    self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.ever_connected = true;
                self.backoff = MIN_BACKOFF;
                self.shared.in_outage.store(false, Ordering::Relaxed);
                if let Some(before) = self.outage.take() {
                    let dropped = self.shared.dropped.load(Ordering::Relaxed) - before;
                    // A full notice channel loses the notice, never blocks the writer.
                    let _ = self.notices.try_send(Notice::Reconnected { dropped });
                }
                true
            }
            Err(e) => {
                self.begin_outage(&e.to_string());
                false
            }
        }
    }

    fn begin_outage(&mut self, why: &str) {
        self.shared.connected.store(false, Ordering::Relaxed);
        self.shared.in_outage.store(true, Ordering::Relaxed);
        // Flushers waiting for the queue to drain stop waiting.
        self.shared.idle.notify_all();
        if self.outage.is_none() {
            self.outage = Some(self.shared.dropped.load(Ordering::Relaxed));
            let _ = self.notices.try_send(Notice::Outage {
                why: why.to_owned(),
                capacity: self.shared.capacity,
            });
        }
    }

    fn lost_connection(&mut self, why: &str) {
        self.conn = None;
        self.begin_outage(why);
    }

    /// Sleeps for the back-off delay (woken early by close); false if the queue was closed.
    fn back_off(&mut self) -> bool {
        let st = self.shared.lock();
        if st.closed {
            return false;
        }
        let (st, _) = self
            .shared
            .work
            .wait_timeout(st, self.backoff)
            .unwrap_or_else(|e| e.into_inner());
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        !st.closed
    }

    fn deliver(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match conn.send(&self.batch, &mut self.scratch) {
            Ok(sent) => {
                let n = self.batch.len() as u64;
                self.shared.sent.fetch_add(n - sent.lost, Ordering::Relaxed);
                self.shared.dropped.fetch_add(sent.lost, Ordering::Relaxed);
                self.batch.clear();
                if sent.reopen {
                    self.lost_connection("nobody listens on the socket");
                }
            }
            // The batch stays in hand and goes to the next connection.
            Err(e) => self.lost_connection(&e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
