//! Timestamps. We print **local time**, like caproto (Python's `logging` uses
//! `time.localtime`), with the date part from a `strftime`-style format (default `%H:%M:%S`)
//! followed by `.mmm` milliseconds. JSON records carry RFC 3339 local time with its UTC offset,
//! so they stay unambiguous.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Local, SecondsFormat};
use std::fmt::Write as _;

use super::LogError;

/// caproto's default `datefmt`.
pub const DEFAULT_DATEFMT: &str = "%H:%M:%S";

/// A validated `strftime` format (validation up front, so formatting can never panic).
#[derive(Clone, Debug)]
pub(crate) struct DateFormat {
    items: Vec<Item<'static>>,
}

impl DateFormat {
    /// Parses and validates `fmt`.
    pub fn new(fmt: &str) -> Result<Self, LogError> {
        let items: Vec<Item<'static>> = StrftimeItems::new(fmt).map(|i| i.to_owned()).collect();
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return Err(LogError::InvalidDateFormat(fmt.to_owned()));
        }
        Ok(DateFormat { items })
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
    fn bad_format_rejected() {
        assert!(matches!(
            DateFormat::new("%Q"),
            Err(LogError::InvalidDateFormat(_))
        ));
        assert!(DateFormat::new("%Y-%m-%d %H:%M:%S").is_ok());
    }
}
