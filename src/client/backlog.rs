//! Back-pressure between a circuit and its socket writer.
//!
//! A write without callback (`put(&v, false)`) is answered as soon as the
//! circuit has queued it; against a server that reads slowly (sick, or
//! behind a congested link) a program looping over such writes would queue
//! without limit. libca blocks such a caller once 16 × 16 KiB wait for the
//! socket; so do we: past [`WRITE_BACKLOG_LIMIT`] bytes handed to the
//! writer and not yet written, the circuit takes no new request until the
//! writer catches up, and callers wait in their `put` (or `get`). Replies
//! from the server are still read meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Bytes the writer may hold unwritten before the circuit stops taking
/// requests: libca's `flushBlockThreshold` (16 buffers of 16 KiB).
pub(crate) const WRITE_BACKLOG_LIMIT: usize = 16 * 16 * 1024;

/// What the circuit has handed its writer and the socket has not taken.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    queued: AtomicUsize,
    drained: Notify,
}

impl Backlog {
    /// The circuit handed the writer `bytes` more.
    pub(crate) fn handed(&self, bytes: usize) {
        self.queued.fetch_add(bytes, Ordering::AcqRel);
    }

    /// The writer wrote `bytes` to the socket: wake a circuit waiting for room.
    pub(crate) fn written(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::AcqRel);
        self.drained.notify_one();
    }

    /// Whether the circuit, itself holding `pending` encoded bytes, should
    /// stop taking requests.
    pub(crate) fn full(&self, pending: usize) -> bool {
        self.queued.load(Ordering::Acquire) + pending >= WRITE_BACKLOG_LIMIT
    }

    /// Completes after the writer next wrote something (at once if it wrote
    /// since the last wait).
    pub(crate) async fn drained(&self) {
        self.drained.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_counts_what_the_writer_holds_and_what_the_circuit_holds() {
        let backlog = Backlog::default();
        assert!(!backlog.full(0));
        backlog.handed(WRITE_BACKLOG_LIMIT - 10);
        assert!(!backlog.full(9));
        assert!(backlog.full(10));
        backlog.written(WRITE_BACKLOG_LIMIT - 10);
        assert!(!backlog.full(WRITE_BACKLOG_LIMIT - 1));
    }

    #[tokio::test]
    async fn a_write_before_the_wait_is_not_lost() {
        let backlog = Backlog::default();
        backlog.handed(100);
        backlog.written(100);
        tokio::time::timeout(std::time::Duration::from_secs(5), backlog.drained())
            .await
            .expect("the stored wake-up completes the wait");
    }
}
