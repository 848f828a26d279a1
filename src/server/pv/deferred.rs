//! A PV whose owner may let the snapshot fall behind while nobody watches.
//!
//! A database record processes on every client write, and its VAL
//! channel's snapshot is a copy of the record's VAL, alarm and time.
//! Making that copy costs each write the channel's lock, yet with no
//! monitor on the channel nobody sees the copy before the next read. So
//! while the channel is not [watched](PvHandle::is_watched), the record
//! may [mark the snapshot stale](PvHandle::mark_stale) instead of copying,
//! and every read of the snapshot ([`PvHandle::snapshot`], a client's get)
//! first has the record ([`super::record_val`]) bring it up to date. A
//! client sees what it would have seen had the copy been made at once;
//! monitors see every post, as subscribing counts as watching before it
//! reads the snapshot.
//!
//! The record sets the mark, decides to, and [clears](PvHandle::clear_stale)
//! it, all under its own lock; a refresh takes that lock, and clears the
//! mark only once the snapshot is up to date, so a read that finds no mark
//! finds the copy. A subscription counts itself, then refreshes, so a
//! write that saw no watcher has marked the snapshot by the time the
//! refresh has the record's lock, and every later write sees the watcher.
//! The record must not read the snapshot through a refreshing call while
//! it holds its lock (the refresh would wait on it):
//! [`PvHandle::snapshot_as_is`] is for that.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{PvHandle, PvSnapshot};
use crate::sync::lock;

impl PvHandle {
    /// Whether a subscription is registered on the PV or being registered:
    /// while it is not, the record may [`mark_stale`](Self::mark_stale)
    /// instead of posting. Read under the record's lock.
    #[inline]
    pub(crate) fn is_watched(&self) -> bool {
        self.0.watchers.load(Ordering::SeqCst) != 0
    }

    /// Say that the record's state is ahead of the snapshot, with the
    /// record's lock held: the next read has the record bring it up to date
    /// first. Only for a PV bound to a record.
    #[inline]
    pub(crate) fn mark_stale(&self) {
        debug_assert!(
            self.record().is_some(),
            "stale mark on a PV bound to no record"
        );
        self.0.stale.store(true, Ordering::Release);
    }

    /// Whether the snapshot is marked stale (the record's refresh, with
    /// its lock held).
    #[inline]
    pub(crate) fn is_stale(&self) -> bool {
        self.0.stale.load(Ordering::Acquire)
    }

    /// Clear the stale mark once the snapshot is up to date, with the
    /// record's lock held. Not before: a read on another thread that finds
    /// no mark goes straight to the snapshot, which must then be the copy.
    #[inline]
    pub(crate) fn clear_stale(&self) {
        self.0.stale.store(false, Ordering::Release);
    }

    /// The snapshot as it stands, not brought up to date: for the record,
    /// which may hold the lock a refresh takes.
    pub(crate) fn snapshot_as_is(&self) -> Arc<PvSnapshot> {
        Arc::clone(&lock(&self.0.state).current)
    }

    /// Bring the snapshot up to date before reading it, if it is stale.
    #[inline]
    pub(super) fn fresh(&self) {
        if self.0.stale.load(Ordering::Acquire) {
            self.refresh_now();
        }
    }

    /// Have the record bring the snapshot up to date (it was marked
    /// stale, or a subscription is arriving).
    #[cold]
    #[inline(never)]
    pub(super) fn refresh_now(&self) {
        if let Some(record) = self.record() {
            record.refresh(self);
        }
    }

    /// A subscription is about to be registered: count it as watching,
    /// then let the record bring the snapshot up to date (a write that
    /// raced with the count has marked it by the time the refresh has the
    /// record's lock).
    pub(super) fn watch(&self) {
        self.0.watchers.fetch_add(1, Ordering::SeqCst);
        if self.record().is_some() {
            self.refresh_now();
        }
    }

    /// `n` subscriptions left the PV's list.
    pub(super) fn unwatch(&self, n: usize) {
        if n != 0 {
            self.0.watchers.fetch_sub(n, Ordering::SeqCst);
        }
    }
}
