//! The global switch of Python's `logging.disable`: records at or below a level are dropped
//! whatever the handlers want, for performance.
//!
//! It is a ceiling every handler's filter applies before anything else, and it lowers the
//! level hint tracing caches per callsite, so a disabled record is rejected exactly like a
//! record below every handler's level: by the callsite cache, without looking at fields.

use std::sync::atomic::{AtomicU8, Ordering};

use tracing::level_filters::LevelFilter;
use tracing::Level;

/// The most verbose level still allowed, as [`encode`]d; TRACE (everything) by default.
static CEILING: AtomicU8 = AtomicU8::new(5);

fn encode(l: LevelFilter) -> u8 {
    match l.into_level() {
        None => 0,
        Some(Level::ERROR) => 1,
        Some(Level::WARN) => 2,
        Some(Level::INFO) => 3,
        Some(Level::DEBUG) => 4,
        Some(Level::TRACE) => 5,
    }
}

fn decode(n: u8) -> LevelFilter {
    match n {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The most verbose level any handler may see now.
pub(crate) fn ceiling() -> LevelFilter {
    decode(CEILING.load(Ordering::Relaxed))
}

/// Disables every record at `level` and every more verbose level, whatever the handlers'
/// levels (Python's `logging.disable(level)`): `disable(Level::DEBUG)` leaves INFO and above,
/// `disable(Level::ERROR)` silences everything. Takes effect for the next record in every
/// thread. [`enable_all`] undoes it.
pub fn disable(level: Level) {
    let allowed = match level {
        Level::TRACE => LevelFilter::DEBUG,
        Level::DEBUG => LevelFilter::INFO,
        Level::INFO => LevelFilter::WARN,
        Level::WARN => LevelFilter::ERROR,
        Level::ERROR => LevelFilter::OFF,
    };
    set(allowed);
}

/// Lifts [`disable`]: handlers get every record their own level asks for again.
pub fn enable_all() {
    set(LevelFilter::TRACE);
}

fn set(allowed: LevelFilter) {
    CEILING.store(encode(allowed), Ordering::Relaxed);
    // Callsites cached "always"/"never" under the old ceiling must ask again.
    tracing::callsite::rebuild_interest_cache();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for l in [
            LevelFilter::OFF,
            LevelFilter::ERROR,
            LevelFilter::WARN,
            LevelFilter::INFO,
            LevelFilter::DEBUG,
            LevelFilter::TRACE,
        ] {
            assert_eq!(decode(encode(l)), l);
        }
    }
}
