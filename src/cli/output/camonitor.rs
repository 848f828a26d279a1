//! caproto-monitor's lines in EPICS camonitor's layout, used when `-t` picks
//! camonitor's timestamp modes: the name (padded to 30 columns for scalars),
//! the timestamp(s), the element count for arrays, the values, and the alarm
//! status and severity (or two empty fields when there is no alarm).
//!
//! `-t` takes camonitor's letters: `s` server stamps, `c` client stamps
//! (in parentheses), `n` none; `r` relative (server stamps to the first
//! update printed, client stamps to the program's start), `i` incremental
//! (to the previous update of any PV), `I` incremental by PV. In the relative
//! and incremental modes a PV's first update still shows absolute stamps.

use std::fmt::Write as _;

use crate::cli::output::format::{DataFormat, FloatStyle, Response};
use crate::cli::output::numfmt::{write_e, write_f, write_g, write_radix, Radix};
use crate::cli::output::timefmt::{Stamp, Zone};
use crate::proto::dbr::{Value, EPICS_EPOCH_OFFSET_SECS};

/// How stamps are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TsKind {
    /// The stamps themselves.
    #[default]
    Absolute,
    /// Seconds since the start (client) or the first update printed (server).
    Relative,
    /// Seconds since the previous update of any PV.
    Incremental,
    /// Seconds since the previous update of the same PV.
    IncrementalByPv,
}

/// camonitor's `-t` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsMode {
    /// `s`: the server's stamps.
    pub server: bool,
    /// `c`: the client's clock, in parentheses.
    pub client: bool,
    /// `r`, `i`, `I`, or absolute.
    pub kind: TsKind,
}

impl Default for TsMode {
    /// camonitor without `-t`: absolute server stamps.
    fn default() -> Self {
        TsMode {
            server: true,
            client: false,
            kind: TsKind::Absolute,
        }
    }
}

/// Parse `-t KEY` (letters `s c n r i I`, as camonitor; an unknown letter is
/// an error here, where camonitor warns and ignores it).
pub fn parse_ts_mode(key: &str) -> Result<TsMode, String> {
    let mut mode = TsMode {
        server: false,
        client: false,
        kind: TsKind::Absolute,
    };
    if key.is_empty() {
        return Err("-t needs at least one of s, c, n, r, i, I".into());
    }
    for c in key.chars() {
        match c {
            's' => mode.server = true,
            'c' => mode.client = true,
            'n' => {}
            'r' => mode.kind = TsKind::Relative,
            'i' => mode.kind = TsKind::Incremental,
            'I' => mode.kind = TsKind::IncrementalByPv,
            other => {
                return Err(format!(
                    "unknown -t letter {other:?}: use s (server), c (client), n (none), \
                     r (relative), i (incremental), I (incremental by PV)"
                ))
            }
        }
    }
    Ok(mode)
}

/// camonitor's clock text: `%Y-%m-%d %H:%M:%S.` and microseconds.
fn clock(stamp: Stamp) -> String {
    stamp
        .strftime("%Y-%m-%d %H:%M:%S.%f", Zone::Local)
        .unwrap_or_default()
}

/// The server's stamp of a TIME reading, rounded to the microsecond as
/// camonitor's `%06f` rounds (caproto's tools truncate).
fn server_stamp(reading: &Response) -> Option<Stamp> {
    reading.timestamp()?;
    let t = reading.reading.meta.stamp;
    let secs = i64::from(t.secs) + EPICS_EPOCH_OFFSET_SECS as i64;
    Some(Stamp {
        micros: secs * 1_000_000 + (i64::from(t.nanos) + 500) / 1000,
    })
}

fn seconds(a: Stamp, b: Stamp) -> f64 {
    (a.micros - b.micros) as f64 / 1e6
}

#[derive(Debug, Clone, Copy, Default)]
struct PvClock {
    printed: bool,
    previous: Option<(Stamp, Stamp)>,
}

/// Writes camonitor lines, keeping the reference stamps `-t` modes need.
#[derive(Debug)]
pub struct CamonitorLines {
    mode: TsMode,
    data: DataFormat,
    start: Stamp,
    first: Option<Stamp>,
    previous: Option<(Stamp, Stamp)>,
    pvs: Vec<PvClock>,
}

impl CamonitorLines {
    /// For `pvs` PVs, with the program started at `start` (client clock).
    pub fn new(mode: TsMode, data: DataFormat, pvs: usize, start: Stamp) -> CamonitorLines {
        CamonitorLines {
            mode,
            data,
            start,
            first: None,
            previous: None,
            pvs: vec![PvClock::default(); pvs],
        }
    }

    fn sep(&self) -> char {
        self.data
            .separator
            .as_deref()
            .and_then(|s| s.chars().next())
            .unwrap_or(' ')
    }

    fn name(&self, out: &mut String, pv: &str, elements: usize) {
        let sep = self.sep();
        if elements <= 1 && sep == ' ' {
            let _ = write!(out, "{pv:<30}");
        } else {
            out.push_str(pv);
        }
        out.push(sep);
    }

    /// The line for update `reading` of PV number `i` named `pv`, received
    /// at `now` (client clock), newline included.
    pub fn update(&mut self, i: usize, pv: &str, reading: &Response, now: Stamp) -> String {
        let server = server_stamp(reading).unwrap_or(now);
        let first = *self.first.get_or_insert(now);
        let mut out = String::new();
        let n = reading.reading.value.len();
        self.name(&mut out, pv, n);
        let pv_clock = self.pvs.get(i).copied().unwrap_or_default();
        let reference = match self.mode.kind {
            TsKind::Absolute => None,
            TsKind::Relative => Some((self.start, first)),
            TsKind::Incremental => self.previous,
            TsKind::IncrementalByPv => pv_clock.previous,
        };
        match reference {
            Some((ref_client, ref_server)) if pv_clock.printed => {
                if self.mode.server {
                    let _ = write!(out, "              {:+12.6}", seconds(server, ref_server));
                }
                if self.mode.client {
                    let _ = write!(out, "              ({:+12.6})", seconds(now, ref_client));
                }
            }
            _ => {
                if self.mode.server {
                    out.push_str(&clock(server));
                }
                if self.mode.client {
                    let _ = write!(out, "({})", clock(now));
                }
            }
        }
        if let Some(c) = self.pvs.get_mut(i) {
            c.printed = true;
            c.previous = Some((now, server));
        }
        self.previous = Some((now, server));
        self.values(&mut out, &reading.reading.value);
        let sep = self.sep();
        let meta = &reading.reading.meta;
        if meta.status.0 != 0 || meta.severity.0 != 0 {
            let _ = writeln!(out, "{sep}{}{sep}{}", meta.status, meta.severity);
        } else {
            let _ = writeln!(out, "{sep}{sep}");
        }
        out
    }

    fn values(&self, out: &mut String, value: &Value) {
        let sep = self.sep();
        let n = value.len();
        if n > 1 {
            let _ = write!(out, "{sep}{n}");
        }
        let float = |out: &mut String, x: f64| match self.data.float {
            FloatStyle::General | FloatStyle::ServerString => write_g(out, x, 6),
            FloatStyle::Exp(p) => write_e(out, x, p),
            FloatStyle::Fixed(p) => write_f(out, x, p),
            FloatStyle::GeneralPrec(p) => write_g(out, x, p),
            FloatStyle::Rounded(r) => write_radix(out, x.round() as i64, r),
        };
        let int = |out: &mut String, x: i64| match self.data.int_radix {
            Some(Radix::Hex) => {
                let _ = write!(out, "0x{x:X}");
            }
            Some(r) => write_radix(out, x, r),
            None => {
                let _ = write!(out, "{x}");
            }
        };
        macro_rules! each {
            ($v:expr, $f:expr) => {
                for x in $v {
                    out.push(sep);
                    $f(out, x);
                }
            };
        }
        match value {
            Value::String(v) => each!(v, |o: &mut String, s: &String| o.push_str(s)),
            Value::Double(v) => each!(v, |o: &mut String, x: &f64| float(o, *x)),
            Value::Float(v) => each!(v, |o: &mut String, x: &f32| float(o, f64::from(*x))),
            Value::Short(v) => each!(v, |o: &mut String, x: &i16| int(o, i64::from(*x))),
            Value::Enum(v) => each!(v, |o: &mut String, x: &u16| int(o, i64::from(*x))),
            Value::Char(v) => each!(v, |o: &mut String, x: &u8| int(o, i64::from(*x))),
            Value::Long(v) => each!(v, |o: &mut String, x: &i32| int(o, i64::from(*x))),
        }
    }

    /// `NAME *** Not connected (PV not found)`.
    pub fn not_found(&self, pv: &str) -> String {
        let mut out = String::new();
        self.name(&mut out, pv, 0);
        out.push_str("*** Not connected (PV not found)\n");
        out
    }

    /// `NAME TIME *** disconnected` (client clock), `count` the PV's last element count.
    pub fn disconnected(&self, pv: &str, count: u32, now: Stamp) -> String {
        let mut out = String::new();
        self.name(&mut out, pv, count as usize);
        let _ = writeln!(out, "{} *** disconnected", clock(now));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dbr::{DbrClass, DbrType, Metadata};
    use crate::proto::status::{AlarmSeverity, AlarmStatus};

    fn reading(value: Value, micros: i64) -> Response {
        let native = value.native_type();
        let mut meta = Metadata::default();
        let epics = micros - crate::proto::dbr::EPICS_EPOCH_OFFSET_SECS as i64 * 1_000_000;
        meta.stamp = crate::proto::dbr::EpicsTime::new(
            (epics / 1_000_000) as u32,
            (epics % 1_000_000) as u32 * 1000,
        );
        Response::normal(crate::client::Reading {
            dbr_type: DbrType::Value(DbrClass::Time, native),
            value,
            meta,
        })
    }

    #[test]
    fn modes_parse_like_camonitor() {
        assert_eq!(parse_ts_mode("s").unwrap(), TsMode::default());
        let m = parse_ts_mode("sc").unwrap();
        assert!(m.server && m.client && m.kind == TsKind::Absolute);
        let m = parse_ts_mode("n").unwrap();
        assert!(!m.server && !m.client);
        assert_eq!(parse_ts_mode("cI").unwrap().kind, TsKind::IncrementalByPv);
        assert_eq!(parse_ts_mode("ri").unwrap().kind, TsKind::Incremental);
        assert!(parse_ts_mode("x").is_err());
        assert!(parse_ts_mode("").is_err());
    }

    #[test]
    fn layout_values_and_increments() {
        let t0 = 1_700_000_000_000_000;
        let mut lines = CamonitorLines::new(
            parse_ts_mode("si").unwrap(),
            DataFormat::default(),
            2,
            Stamp { micros: t0 },
        );
        let now = Stamp { micros: t0 + 5 };
        // Stamps round to the microsecond, as camonitor's %06f.
        let mut r = reading(Value::Double(vec![3.5]), t0);
        r.reading.meta.stamp.nanos += 999;
        let rounded = server_stamp(&r).unwrap();
        assert_eq!(rounded.micros, t0 + 1);
        let first = lines.update(0, "a", &reading(Value::Double(vec![3.5]), t0), now);
        assert!(first.starts_with(&format!("{:<30} ", "a")), "{first:?}");
        assert!(first.ends_with(" 3.5  \n"), "{first:?}");
        // Second PV, first update: absolute; then increments.
        let arr = lines.update(
            1,
            "w",
            &reading(Value::Long(vec![1, -2]), t0 + 250_000),
            now,
        );
        assert!(
            arr.starts_with("w ") && arr.ends_with(" 2 1 -2  \n"),
            "{arr:?}"
        );
        let inc = lines.update(
            0,
            "a",
            &reading(Value::Double(vec![1e-7]), t0 + 1_250_000),
            now,
        );
        // C's %+12.6f: right-aligned in 12 columns, after 14 spaces.
        let blank = " ".repeat(14);
        assert_eq!(
            inc,
            format!("{:<30} {blank}{:>12} 1e-07  \n", "a", "+1.000000")
        );
        let mut alarm = reading(Value::String(vec!["x y".into()]), t0 + 1_500_000);
        alarm.reading.meta.status = AlarmStatus(3);
        alarm.reading.meta.severity = AlarmSeverity(2);
        let l = lines.update(0, "a", &alarm, now);
        assert!(l.ends_with("+0.250000 x y HIHI MAJOR\n"), "{l:?}");
        // No stamps: name, separator, then the values' own separator.
        let mut none = CamonitorLines::new(
            parse_ts_mode("n").unwrap(),
            DataFormat::default(),
            1,
            Stamp { micros: t0 },
        );
        let l = none.update(0, "a", &reading(Value::Long(vec![7]), t0), now);
        assert_eq!(l, format!("{:<30}  7  \n", "a"));
        assert_eq!(
            none.not_found("a"),
            format!("{:<30} *** Not connected (PV not found)\n", "a")
        );
    }
}
