//! Timestamps and time differences as caproto's tools print them: local time
//! (Python's `datetime.fromtimestamp`), microsecond resolution, Python's
//! `str(datetime)` / `str(timedelta)` spellings, and `strftime` patterns in
//! `--format` such as `{timestamp:%Y-%m-%d %H:%M:%S.%f}`.

use chrono::format::{Item, StrftimeItems};
use std::fmt::Write as _;

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
    /// From an EPICS timestamp the way caproto converts it
    /// (`epics_timestamp_to_unix`): nanoseconds are truncated to whole
    /// microseconds, computed as `int(1e-3 * nanos)` in floating point.
    pub fn from_epics(t: EpicsTime) -> Stamp {
        let secs = i64::from(t.secs) + EPICS_EPOCH_OFFSET_SECS as i64;
        // `as` truncates toward zero, like Python's int(); nanos < 2^32 is exact in f64.
        let micros = (1.0e-3 * f64::from(t.nanos)) as i64;
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

/// Timestamps rendered for many lines (caproto-monitor prints thousands a
/// second): everything but the microseconds is formatted once per second
/// and pattern, the six fraction digits are filled in per line. Patterns
/// whose output has other sub-second parts are formatted every time.
#[derive(Debug, Default)]
pub struct TimeCache {
    entries: Vec<TimeEntry>,
}

/// One pattern's text for one second.
#[derive(Debug)]
struct TimeEntry {
    /// The Python pattern, or `None` for `str(datetime)`.
    pattern: Option<String>,
    zone: Zone,
    /// The pattern split at its `%f`s; `None` if it cannot be cached.
    split: Option<Vec<String>>,
    /// The second `rendered` belongs to.
    secs: i64,
    /// The split pieces rendered for `secs`; six microsecond digits go
    /// between each two. Empty until rendered successfully.
    rendered: Vec<String>,
}

/// How many patterns a cache remembers (a line has a few time fields at most).
const TIME_CACHE_SLOTS: usize = 8;

impl TimeCache {
    /// Append `stamp` as `format(datetime, pattern)`, or as `str(datetime)`
    /// when `pattern` is `None`, in `zone`.
    pub fn write(
        &mut self,
        out: &mut String,
        stamp: Stamp,
        pattern: Option<&str>,
        zone: Zone,
    ) -> Result<(), BadTimeFormat> {
        let secs = stamp.micros.div_euclid(1_000_000);
        let micros = stamp.micros.rem_euclid(1_000_000);
        let entry = self.entry(pattern, zone);
        let Some(split) = &entry.split else {
            out.push_str(&stamp.strftime(pattern.unwrap_or_default(), zone)?);
            return Ok(());
        };
        if entry.secs != secs || entry.rendered.is_empty() {
            let whole = Stamp {
                micros: secs * 1_000_000,
            };
            entry.rendered = match pattern {
                Some(_) => split
                    .iter()
                    .map(|p| whole.strftime(p, zone))
                    .collect::<Result<_, _>>()?,
                None => vec![whole.in_zone(zone).format("%Y-%m-%d %H:%M:%S").to_string()],
            };
            entry.secs = secs;
        }
        let mut pieces = entry.rendered.iter();
        out.push_str(pieces.next().map_or("", String::as_str));
        if pattern.is_none() {
            // Python's str(datetime) leaves out a zero fraction.
            if micros != 0 {
                let _ = write!(out, ".{micros:06}");
            }
            return Ok(());
        }
        for piece in pieces {
            let _ = write!(out, "{micros:06}");
            out.push_str(piece);
        }
        Ok(())
    }

    /// The entry for `pattern` in `zone`, created (evicting the oldest) if new.
    fn entry(&mut self, pattern: Option<&str>, zone: Zone) -> &mut TimeEntry {
        let found = self
            .entries
            .iter()
            .position(|e| e.pattern.as_deref() == pattern && e.zone == zone);
        let index = match found {
            Some(i) => i,
            None => {
                if self.entries.len() >= TIME_CACHE_SLOTS {
                    self.entries.remove(0);
                }
                self.entries.push(TimeEntry {
                    pattern: pattern.map(str::to_string),
                    zone,
                    split: match pattern {
                        Some(p) => split_at_micros(p),
                        None => Some(Vec::new()),
                    },
                    secs: 0,
                    rendered: Vec::new(),
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[index]
    }
}

/// Split a Python pattern at each `%f` (not `%%f`), or `None` when the
/// pieces would still depend on the sub-second part (chrono's `%.f`, `%3f`,
/// `%+`, ...), so the text cannot be cached per second.
fn split_at_micros(pattern: &str) -> Option<Vec<String>> {
    let mut pieces = vec![String::new()];
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let cur = pieces.last_mut()?;
        if c != '%' {
            cur.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => pieces.push(String::new()),
            Some('.' | '+' | '3' | '6' | '9') => return None,
            Some(other) => {
                cur.push('%');
                cur.push(other);
            }
            None => cur.push('%'),
        }
    }
    Some(pieces)
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
    fn epics_nanos_truncate_to_micros_as_caproto() {
        let base = (EPICS_EPOCH_OFFSET_SECS as i64) * 1_000_000;
        let s = |nanos| Stamp::from_epics(EpicsTime { secs: 0, nanos }).micros - base;
        // Values from Python: int(1.e-3 * n).
        assert_eq!(s(999), 0);
        assert_eq!(s(1_500), 1);
        assert_eq!(s(2_500), 2);
        assert_eq!(s(536_721_000), 536_721);
        assert_eq!(s(999_999_999), 999_999);
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

#[cfg(test)]
mod cache_tests {
    use super::*;

    fn cached(cache: &mut TimeCache, micros: i64, pattern: Option<&str>) -> String {
        let mut s = String::new();
        cache
            .write(&mut s, Stamp { micros }, pattern, Zone::Utc)
            .unwrap();
        s
    }

    #[test]
    fn cache_gives_what_strftime_gives() {
        let patterns = [
            "%Y-%m-%d %H:%M:%S.%f",
            "%f|%f",
            "%H:%M",
            "%%f %f%%",
            "%s.%f %j",
        ];
        let mut cache = TimeCache::default();
        // Within one second, across seconds, days and the epoch, in one cache.
        let base = 1_795_587_229_000_000i64;
        let stamps = [
            base,
            base + 1,
            base + 999_999,
            base + 1_000_000,
            base + 86_400_000_123,
            base + 7,
            0,
            -1,
            -1_000_001,
        ];
        for &micros in &stamps {
            let s = Stamp { micros };
            for p in patterns {
                assert_eq!(
                    cached(&mut cache, micros, Some(p)),
                    s.strftime(p, Zone::Utc).unwrap(),
                    "{p} at {micros}"
                );
            }
            assert_eq!(
                cached(&mut cache, micros, None),
                s.to_python_string(Zone::Utc)
            );
        }
    }

    #[test]
    fn sub_second_chrono_patterns_are_not_cached_and_bad_ones_fail() {
        let mut cache = TimeCache::default();
        let a = 1_795_587_229_100_000;
        assert_eq!(cached(&mut cache, a, Some("%S%.3f")), "49.100");
        assert_eq!(cached(&mut cache, a + 200_000, Some("%S%.3f")), "49.300");
        assert!(split_at_micros("%+").is_none());
        let mut s = String::new();
        assert!(cache
            .write(&mut s, Stamp { micros: a }, Some("%Q %f"), Zone::Utc)
            .is_err());
        assert!(cache
            .write(&mut s, Stamp { micros: a }, Some("%Q %f"), Zone::Utc)
            .is_err());
        // More patterns than slots: the oldest are evicted, results stay right.
        for i in 0..(TIME_CACHE_SLOTS + 3) {
            let p = format!("{i}:%S.%f");
            assert_eq!(cached(&mut cache, a, Some(&p)), format!("{i}:49.100000"));
        }
    }
}
