//! Alarm and monitor arithmetic of EPICS's analog records (ai, ao, calc,
//! longin, longout ...), as pure functions for the record layer to call on
//! each processing, with no I/O and no clock.
//!
//! [`AnalogAlarm::check`] places the value against HIHI/HIGH/LOW/LOLO, each
//! enabled by a non-zero severity (HHSV/HSV/LSV/LLSV), in that order of
//! precedence. HYST keeps an alarm raised until the value is HYST back
//! inside the limit that raised it: the record remembers that limit (LALM)
//! while in alarm and the value itself while not. Alarm filtering (AFTC) is
//! not modelled.
//!
//! [`deadband_passed`] is EPICS's monitor deadband test (MDEL for DBE_VALUE,
//! ADEL for DBE_LOG): a change larger than the deadband posts and becomes
//! the new reference; a deadband below 0 posts every processing; NaN and
//! infinities count as a change unless the value stays the same NaN or
//! infinity. [`alarm_events`] says what an alarm change adds to a value
//! post.

use crate::proto::command::mask;
use crate::proto::status::{AlarmSeverity, AlarmStatus};

/// The alarm fields of an analog record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalogLimits {
    /// HIHI: major high limit.
    pub hihi: f64,
    /// HIGH: minor high limit.
    pub high: f64,
    /// LOW: minor low limit.
    pub low: f64,
    /// LOLO: major low limit.
    pub lolo: f64,
    /// HHSV: severity at or above HIHI (NO_ALARM disables the limit).
    pub hhsv: AlarmSeverity,
    /// HSV: severity at or above HIGH.
    pub hsv: AlarmSeverity,
    /// LSV: severity at or below LOW.
    pub lsv: AlarmSeverity,
    /// LLSV: severity at or below LOLO.
    pub llsv: AlarmSeverity,
    /// HYST: alarm deadband.
    pub hyst: f64,
}

impl Default for AnalogLimits {
    /// EPICS's defaults: all limits 0, all severities NO_ALARM (no alarms).
    fn default() -> AnalogLimits {
        AnalogLimits {
            hihi: 0.0,
            high: 0.0,
            low: 0.0,
            lolo: 0.0,
            hhsv: AlarmSeverity::NO_ALARM,
            hsv: AlarmSeverity::NO_ALARM,
            lsv: AlarmSeverity::NO_ALARM,
            llsv: AlarmSeverity::NO_ALARM,
            hyst: 0.0,
        }
    }
}

/// The alarm state an analog record keeps between processings (LALM).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AnalogAlarm {
    /// LALM: the limit of the alarm last raised, or the last value while not in alarm.
    pub lalm: f64,
}

impl AnalogAlarm {
    /// Status and severity of `val` against `limits`, updating LALM.
    pub fn check(&mut self, val: f64, limits: &AnalogLimits) -> (AlarmStatus, AlarmSeverity) {
        let lalm = self.lalm;
        let hyst = limits.hyst;
        let above = |sev: AlarmSeverity, lim: f64| {
            sev != AlarmSeverity::NO_ALARM && (val >= lim || (lalm == lim && val >= lim - hyst))
        };
        let below = |sev: AlarmSeverity, lim: f64| {
            sev != AlarmSeverity::NO_ALARM && (val <= lim || (lalm == lim && val <= lim + hyst))
        };
        let (status, sev, limit) = if above(limits.hhsv, limits.hihi) {
            (AlarmStatus::HIHI, limits.hhsv, limits.hihi)
        } else if below(limits.llsv, limits.lolo) {
            (AlarmStatus::LOLO, limits.llsv, limits.lolo)
        } else if above(limits.hsv, limits.high) {
            (AlarmStatus::HIGH, limits.hsv, limits.high)
        } else if below(limits.lsv, limits.low) {
            (AlarmStatus::LOW, limits.lsv, limits.low)
        } else {
            self.lalm = val;
            return (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM);
        };
        self.lalm = limit;
        (status, sev)
    }
}

/// Whether `new` moved more than `deadband` from `*last` (then `*last`
/// becomes `new`): EPICS's test for posting DBE_VALUE (MDEL) or DBE_LOG (ADEL).
#[inline]
pub fn deadband_passed(last: &mut f64, new: f64, deadband: f64) -> bool {
    // Finite values, or one infinite: the difference is the change. It is
    // NaN only for a NaN or the same infinity twice (no change if both
    // are NaN or equal, else an infinite one): tested only then, as every
    // processing of an analog record runs this twice.
    let mut delta = (*last - new).abs();
    if delta.is_nan() {
        delta = if (new.is_nan() && last.is_nan()) || new == *last {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if delta > deadband {
        *last = new;
        true
    } else {
        false
    }
}

/// Events an alarm change adds to the value's post: DBE_ALARM when the
/// status or the severity changed (as EPICS's `recGblResetAlarms`).
pub fn alarm_events(old: (AlarmStatus, AlarmSeverity), new: (AlarmStatus, AlarmSeverity)) -> u16 {
    if old != new {
        mask::ALARM
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits of the ai record in the softIoc comparison below.
    fn limits() -> AnalogLimits {
        AnalogLimits {
            hihi: 90.0,
            high: 70.0,
            low: 30.0,
            lolo: 10.0,
            hhsv: AlarmSeverity::MAJOR,
            hsv: AlarmSeverity::MINOR,
            lsv: AlarmSeverity::MINOR,
            llsv: AlarmSeverity::MAJOR,
            hyst: 5.0,
        }
    }

    /// Status and severity after each put, as softIoc 7.0.8.1 reported them
    /// (`caput` to an ai's VAL, then `caget -t .STAT .SEVR`) for
    /// `record(ai, x) { HIHI 90 HIGH 70 LOW 30 LOLO 10, HHSV MAJOR HSV MINOR
    /// LSV MINOR LLSV MAJOR, HYST 5 }`.
    const SOFTIOC_SEQUENCE: &[(f64, &str, &str)] = &[
        (50.0, "NO_ALARM", "NO_ALARM"),
        (72.0, "HIGH", "MINOR"),
        (68.0, "HIGH", "MINOR"),
        (64.0, "NO_ALARM", "NO_ALARM"),
        (91.0, "HIHI", "MAJOR"),
        (86.0, "HIHI", "MAJOR"),
        (84.0, "HIGH", "MINOR"),
        (66.0, "HIGH", "MINOR"),
        (9.0, "LOLO", "MAJOR"),
        (14.0, "LOLO", "MAJOR"),
        (16.0, "LOW", "MINOR"),
        (34.0, "LOW", "MINOR"),
        (36.0, "NO_ALARM", "NO_ALARM"),
        (100.0, "HIHI", "MAJOR"),
        (5.0, "LOLO", "MAJOR"),
    ];

    #[test]
    fn hysteresis_sequence_matches_softioc() {
        let mut state = AnalogAlarm::default();
        for &(val, stat, sevr) in SOFTIOC_SEQUENCE {
            let (s, v) = state.check(val, &limits());
            assert_eq!(
                (s.to_string(), v.to_string()),
                (stat.into(), sevr.into()),
                "VAL={val}"
            );
        }
    }

    #[test]
    fn disabled_limits_and_defaults_raise_nothing() {
        let mut state = AnalogAlarm::default();
        let off = AnalogLimits::default();
        for v in [-1e9, 0.0, 1e9, f64::NAN] {
            assert_eq!(
                state.check(v, &off),
                (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM)
            );
        }
        let only_high = AnalogLimits {
            hsv: AlarmSeverity::INVALID,
            high: 1.0,
            ..off
        };
        assert_eq!(
            state.check(1.0, &only_high),
            (AlarmStatus::HIGH, AlarmSeverity::INVALID)
        );
        assert_eq!(state.check(-100.0, &only_high).1, AlarmSeverity::NO_ALARM);
    }

    #[test]
    fn deadbands() {
        let mut last = 0.0;
        assert!(!deadband_passed(&mut last, 0.0, 0.0));
        assert!(deadband_passed(&mut last, 0.5, 0.0));
        assert!(!deadband_passed(&mut last, 1.0, 0.5));
        assert!(deadband_passed(&mut last, 1.1, 0.5));
        assert_eq!(last, 1.1);
        assert!(deadband_passed(&mut last, 1.1, -1.0));
        assert!(deadband_passed(&mut last, f64::NAN, 10.0));
        assert!(!deadband_passed(&mut last, f64::NAN, 10.0));
        assert!(deadband_passed(&mut last, f64::INFINITY, 10.0));
        assert!(!deadband_passed(&mut last, f64::INFINITY, 10.0));
        assert!(deadband_passed(&mut last, f64::NEG_INFINITY, 10.0));
        assert!(deadband_passed(&mut last, 3.0, 10.0));
    }

    #[test]
    fn alarm_changes_add_dbe_alarm() {
        let none = (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM);
        let high = (AlarmStatus::HIGH, AlarmSeverity::MINOR);
        let high_major = (AlarmStatus::HIGH, AlarmSeverity::MAJOR);
        assert_eq!(alarm_events(none, none), 0);
        assert_eq!(alarm_events(none, high), mask::ALARM);
        assert_eq!(alarm_events(high, high_major), mask::ALARM);
    }
}
