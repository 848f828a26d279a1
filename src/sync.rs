//! The crate's one poison-tolerant lock.
//!
//! Every mutex here guards state a panicking holder cannot leave worse than
//! "an update missing" (queues, tables, open files), so a poisoned lock is
//! taken as it is rather than spreading the panic to every other thread.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, recovering the guard if a previous holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
