//! Timestamps. We print **local time**, like caproto (Python's `logging` uses
//! `time.localtime`), with the date part from a `strftime`-style format (default `%H:%M:%S`)
//! followed by `.mmm` milliseconds. JSON records carry RFC 3339 local time with its UTC offset,
//! so they stay unambiguous.

use chrono::format::{Fixed, Item, Numeric, StrftimeItems};
use chrono::{DateTime, Local, SecondsFormat};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::LogError;

/// caproto's default `datefmt`.
pub const DEFAULT_DATEFMT: &str = "%H:%M:%S";

/// A validated `strftime` format (validation up front, so formatting can never panic).
#[derive(Clone, Debug)]
pub(crate) struct DateFormat {
    items: Vec<Item<'static>>,
    /// Tells formats apart in a [`SecondCache`].
    id: u64,
    /// The format shows less than a second (`%f`, `%.3f`, ...): its text cannot be reused.
    sub_second: bool,
}

/// The date part of the last second formatted on this thread: records come many per
/// second, and chrono's formatting (the local offset, the strftime items) costs about as much
/// as the rest of a text record.
#[derive(Debug, Default)]
pub(crate) struct SecondCache {
    id: u64,
    secs: i64,
    text: String,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl DateFormat {
    /// Parses and validates `fmt`.
    pub fn new(fmt: &str) -> Result<Self, LogError> {
        let items: Vec<Item<'static>> = StrftimeItems::new(fmt).map(|i| i.to_owned()).collect();
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return Err(LogError::InvalidDateFormat(fmt.to_owned()));
        }
        let sub_second = items.iter().any(|i| {
            matches!(
                i,
                Item::Numeric(Numeric::Nanosecond, _)
                    | Item::Fixed(
                        Fixed::Nanosecond
                            | Fixed::Nanosecond3
                            | Fixed::Nanosecond6
                            | Fixed::Nanosecond9
                            | Fixed::Internal(_)
                    )
            )
        });
        Ok(DateFormat {
            items,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            sub_second,
        })
    }

    /// [`DateFormat::write`], reusing the date part of the second `cache` holds.
    pub fn write_cached(&self, now: &DateTime<Local>, cache: &mut SecondCache, out: &mut String) {
        if self.sub_second {
            return self.write(now, out);
        }
        let secs = now.timestamp();
        if cache.id != self.id || cache.secs != secs || cache.text.is_empty() {
            cache.text.clear();
            let _ = write!(cache.text, "{}", now.format_with_items(self.items.iter()));
            cache.id = self.id;
            cache.secs = secs;
        }
        out.push_str(&cache.text);
        let _ = write!(out, ".{:03}", now.timestamp_subsec_millis().min(999));
    }

    /// Appends `now` as `<datefmt>.mmm` to `out`.
    pub fn write(&self, now: &DateTime<Local>, out: &mut String) {
        let _ = write!(
            out,
            "{}.{:03}",
            now.format_with_items(self.items.iter()),
            now.timestamp_subsec_millis().min(999)
        );
    }
}

/// Appends `now` in RFC 3339 with milliseconds and offset.
pub(crate) fn write_rfc3339(now: &DateTime<Local>, out: &mut String) {
    out.push_str(&now.to_rfc3339_opts(SecondsFormat::Millis, false));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn default_format_has_millis() {
        let f = DateFormat::new(DEFAULT_DATEFMT).unwrap();
        let t = Local.with_ymd_and_hms(2024, 1, 2, 3, 50, 28).unwrap()
            + chrono::Duration::milliseconds(86);
        let mut s = String::new();
        f.write(&t, &mut s);
        assert_eq!(s, "03:50:28.086");
    }

    #[test]
    fn the_cached_date_part_is_the_same_text() {
        let mut cache = SecondCache::default();
        for fmt in [DEFAULT_DATEFMT, "%Y-%m-%d %H:%M:%S", "%H:%M:%S%.6f", "%s"] {
            let f = DateFormat::new(fmt).unwrap();
            let base = Local.with_ymd_and_hms(2024, 1, 2, 3, 50, 28).unwrap();
            for ms in [0, 86, 999, 1000, 1500, 61_000] {
                let t = base + chrono::Duration::milliseconds(ms);
                let (mut a, mut b) = (String::new(), String::new());
                f.write(&t, &mut a);
                f.write_cached(&t, &mut cache, &mut b);
                assert_eq!(a, b, "{fmt} at +{ms} ms");
            }
        }
    }

    #[test]
    fn bad_format_rejected() {
        assert!(matches!(
            DateFormat::new("%Q"),
            Err(LogError::InvalidDateFormat(_))
        ));
        assert!(DateFormat::new("%Y-%m-%d %H:%M:%S").is_ok());
    }
}
