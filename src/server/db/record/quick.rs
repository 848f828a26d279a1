//! A client's write to VAL of a record that reads and writes nothing but
//! itself, decoded and processed in one call.
//!
//! catime's "async put" sends writes back to back, and each one processes
//! the record. Through [`Record::put_val_plain`] and [`Record::process`] a
//! write pays for what a processing may need but an analog record with no
//! links never uses: the link list, the input loop, the type dispatch, a
//! [`Processed`](super::Processed) with its list of changed fields. For an
//! ai, ao, longin or longout that is passive, enabled and linkless
//! ([`Record::takes_quick_put`]), [`Record::put_val_quick`] does the same
//! work as those two calls with none of that: VAL decoded in place, UDF,
//! the drive limits (ao, longout), the HIHI..LOLO check with HYST (skipped
//! when every limit's severity is NO_ALARM, as it then raises nothing),
//! the alarm reset and the MDEL/ADEL deadbands. The shell posts the result
//! as it posts a processing's. A write this path does not take leaves the
//! record unchanged and goes the usual way; the unit test
//! `quick_puts_process_as_decoded_writes_do` holds the two paths equal.

use crate::proto::command::mask;
use crate::proto::dbr::{self, DbrError, DbrType, EpicsTime, Value};
use crate::proto::status::{AlarmSeverity, AlarmStatus};

use super::super::alarm::{alarm_events, deadband_passed};
use super::{Kind, Record};

/// What a quick put's processing did (see [`Record::put_val_quick`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuickPut {
    /// Events to post on VAL (0: none).
    pub val_events: u16,
    /// SEVR changed (its field channel gets DBE_VALUE|DBE_LOG).
    pub sevr_changed: bool,
    /// STAT changed.
    pub stat_changed: bool,
}

impl QuickPut {
    /// The fields other than VAL whose value changed, in the order EPICS
    /// posts them (SEVR before STAT).
    pub fn changed(&self) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.sevr_changed {
            changed.push("SEVR");
        }
        if self.stat_changed {
            changed.push("STAT");
        }
        changed
    }
}

impl Record {
    /// Whether a client's write to VAL may take
    /// [`Record::put_val_quick`]: an ai, ao, longin or longout, passive,
    /// not disabled, with no link to a record (SDIS, INP, DOL, OUT, FLNK).
    #[inline]
    pub fn takes_quick_put(&self) -> bool {
        self.hot().quick
    }

    /// A client's write of `count` elements of plain `data_type` to VAL,
    /// decoded into VAL in place, then the record processed at `now`: what
    /// [`Record::put_val_plain`] and [`Record::process`] do for a record
    /// of [`Record::takes_quick_put`]. `None`: the write needs converting
    /// (or the record does not take quick puts), nothing changed; `Err`:
    /// the payload's fault, nothing changed.
    #[inline]
    pub fn put_val_quick(
        &mut self,
        data_type: DbrType,
        count: u32,
        data: &[u8],
        now: EpicsTime,
    ) -> Option<Result<QuickPut, DbrError>> {
        if count != 1 || data_type != DbrType::plain(self.val_native) || !self.takes_quick_put() {
            return None;
        }
        match dbr::decode_plain_one(data_type, data, &mut self.val) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(self.process_quick(now)))
    }

    /// [`Record::process`] for a record of [`Record::takes_quick_put`]
    /// whose VAL a client just wrote.
    #[inline]
    fn process_quick(&mut self, now: EpicsTime) -> QuickPut {
        let hot = self.hot();
        let (mdel, adel, alarms_off) = (hot.mdel, hot.adel, hot.alarms_off);
        let clamp = hot.clamps.then_some((hot.drvh, hot.drvl));
        let mut x = self.val_f64();
        self.udf = false;
        if let Some((drvh, drvl)) = clamp {
            if x > drvh || x < drvl {
                self.val = self.fit(Value::Double(vec![x.clamp(drvl, drvh)]));
                x = self.val_f64();
            }
        }
        if matches!(self.kind, Kind::Ai | Kind::Ao) {
            self.udf = x.is_nan();
        }
        self.stamp = now;
        let new = if self.udf {
            // An analog record in UDF raises that alone.
            let udfs = self.sev("UDFS");
            if udfs > AlarmSeverity::NO_ALARM {
                (AlarmStatus::UDF, udfs)
            } else {
                (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM)
            }
        } else if alarms_off {
            self.alarm.lalm = x;
            (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM)
        } else {
            let limits = self.limits();
            self.alarm.check(x, &limits)
        };
        let old = (self.status, self.severity);
        (self.status, self.severity) = new;
        let mut val_events = alarm_events(old, new);
        if deadband_passed(&mut self.mlst, x, mdel) {
            val_events |= mask::VALUE;
        }
        if deadband_passed(&mut self.alst, x, adel) {
            val_events |= mask::LOG;
        }
        QuickPut {
            val_events,
            sevr_changed: old.1 != new.1,
            stat_changed: old.0 != new.0,
        }
    }
}
