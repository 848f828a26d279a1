//! Timestamps and time differences as caproto's tools print them: local time
//! (Python's `datetime.fromtimestamp`), microsecond resolution, Python's
//! `str(datetime)` / `str(timedelta)` spellings, and `strftime` patterns in
//! `--format` such as `{timestamp:%Y-%m-%d %H:%M:%S.%f}`.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, Local, TimeZone, Utc};

use crate::proto::dbr::{EpicsTime, EPICS_EPOCH_OFFSET_SECS};

/// A wall-clock instant in microseconds since the POSIX epoch, the resolution
/// Python's `datetime` has (and therefore what caproto prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// Microseconds since 1970-01-01 UTC.
    pub micros: i64,
}

/// Which clock face timestamps are shown in. caproto shows local time; tests
/// use UTC so that expected strings do not depend on the machine's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The machine's local time zone (what caproto prints).
    #[default]
    Local,
    /// Coordinated Universal Time.
    Utc,
}

/// Why a `strftime` pattern in `--format` could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTimeFormat {
    /// The pattern as given.
    pub pattern: String,
}

impl std::fmt::Display for BadTimeFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid timestamp format {:?}", self.pattern)
    }
}

impl std::error::Error for BadTimeFormat {}

impl Stamp {
    /// From an EPICS timestamp; nanoseconds are rounded half-to-even to
    /// microseconds as Python does.
    pub fn from_epics(t: EpicsTime) -> Stamp {
        let secs = i64::from(t.secs) + EPICS_EPOCH_OFFSET_SECS as i64;
        let nanos = i64::from(t.nanos);
        let (q, r) = (nanos / 1000, nanos % 1000);
        let micros = if r > 500 || (r == 500 && q % 2 == 1) {
            q + 1
        } else {
            q
        };
        Stamp {
            micros: secs * 1_000_000 + micros,
        }
    }

    /// The current time.
    pub fn now() -> Stamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Stamp {
            micros: i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        }
    }

    /// Seconds since the POSIX epoch as a float (caproto's `metadata.timestamp`).
    pub fn posix_seconds(self) -> f64 {
        self.micros as f64 / 1e6
    }

    fn in_zone(self, zone: Zone) -> DateTime<FixedOffset> {
        let secs = self.micros.div_euclid(1_000_000);
        let nanos = (self.micros.rem_euclid(1_000_000) * 1000) as u32;
        let utc = Utc
            .timestamp_opt(secs, nanos)
            .single()
            .unwrap_or_else(|| DateTime::<Utc>::from(std::time::UNIX_EPOCH));
        match zone {
            Zone::Local => utc.with_timezone(&Local).fixed_offset(),
            Zone::Utc => utc.fixed_offset(),
        }
    }

    /// Python's `str(datetime)`: `2026-11-25 06:11:34.513471`, with the
    /// fraction left out when it is zero.
    pub fn to_python_string(self, zone: Zone) -> String {
        let t = self.in_zone(zone);
        if self.micros.rem_euclid(1_000_000) == 0 {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        } else {
            t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        }
    }

    /// Python's `format(datetime, pattern)` (`strftime`), where `%f` means
    /// six-digit microseconds.
    pub fn strftime(self, pattern: &str, zone: Zone) -> Result<String, BadTimeFormat> {
        let translated = translate_pattern(pattern);
        let items: Vec<Item<'_>> = StrftimeItems::new(&translated).collect();
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return Err(BadTimeFormat {
                pattern: pattern.to_string(),
            });
        }
        Ok(self
            .in_zone(zone)
            .format_with_items(items.into_iter())
            .to_string())
    }
}

/// Rewrite Python's `%f` (microseconds) to chrono's `%6f`, leaving `%%` alone.
fn translate_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str("%6f"),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Python's `str(timedelta)` of a difference in microseconds:
/// `0:00:00.045780`, `1 day, 2:03:04`, `-1 day, 23:59:59.500000`.
pub fn timedelta_string(micros: i64) -> String {
    let day = 86_400_000_000i64;
    let days = micros.div_euclid(day);
    let rest = micros.rem_euclid(day);
    let secs = rest / 1_000_000;
    let frac = rest % 1_000_000;
    let mut out = String::new();
    if days != 0 {
        let plural = if days.abs() != 1 { "s" } else { "" };
        out.push_str(&format!("{days} day{plural}, "));
    }
    out.push_str(&format!(
        "{}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    ));
    if frac != 0 {
        out.push_str(&format!(".{frac:06}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timedelta_matches_python() {
        assert_eq!(timedelta_string(45_780), "0:00:00.045780");
        assert_eq!(timedelta_string(0), "0:00:00");
        assert_eq!(
            timedelta_string(86_400_000_000 + 7_384_000_000),
            "1 day, 2:03:04"
        );
        assert_eq!(timedelta_string(-500_000), "-1 day, 23:59:59.500000");
        assert_eq!(timedelta_string(3 * 86_400_000_000), "3 days, 0:00:00");
    }

    #[test]
    fn epics_nanos_round_half_even_to_micros() {
        let base = (EPICS_EPOCH_OFFSET_SECS as i64) * 1_000_000;
        let s = |nanos| Stamp::from_epics(EpicsTime { secs: 0, nanos }).micros - base;
        assert_eq!(s(1_500), 2);
        assert_eq!(s(2_500), 2);
        assert_eq!(s(2_501), 3);
        assert_eq!(s(999_999_999), 1_000_000);
    }

    #[test]
    fn pattern_translation_and_errors() {
        assert_eq!(translate_pattern("%H:%M:%S.%f %%f"), "%H:%M:%S.%6f %%f");
        let s = Stamp { micros: 0 };
        assert!(s.strftime("%Q", Zone::Utc).is_err());
        assert_eq!(s.strftime("%%", Zone::Utc).unwrap(), "%");
        assert_eq!(
            s.strftime("%Y-%m-%d %H:%M:%S.%f", Zone::Utc).unwrap(),
            "1970-01-01 00:00:00.000000"
        );
        assert_eq!(s.to_python_string(Zone::Utc), "1970-01-01 00:00:00");
        let t = Stamp {
            micros: 1_795_587_094_513_471,
        };
        assert_eq!(t.to_python_string(Zone::Utc), "2026-11-25 06:11:34.513471");
    }
}
