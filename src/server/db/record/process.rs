//! One processing of a record, as EPICS's record support does it: read the
//! inputs, compute VAL, check alarms, decide what to post.

use crate::proto::calc::ARGS;
use crate::proto::command::mask;
use crate::proto::dbr::{EpicsTime, Value};
use crate::proto::status::{AlarmSeverity, AlarmStatus};

use super::super::alarm::{alarm_events, deadband_passed, AnalogLimits};
use super::link::{Link, Severity};
use super::{Kind, Record};
use crate::server::ValueExt;

/// The link fields a processing reads, in the order of [`Inputs::values`].
pub const CALC_INPUTS: [&str; ARGS] = [
    "INPA", "INPB", "INPC", "INPD", "INPE", "INPF", "INPG", "INPH", "INPI", "INPJ", "INPK", "INPL",
];

/// The severity field of each mbbi/mbbo state, in state order.
pub(super) const MBB_SEVERITIES: [&str; 16] = [
    "ZRSV", "ONSV", "TWSV", "THSV", "FRSV", "FVSV", "SXSV", "SVSV", "EISV", "NISV", "TESV", "ELSV",
    "TVSV", "TTSV", "FTSV", "FFSV",
];

/// What the shell read from a record's database input links: one entry per
/// link of [`Record::input_links`], `None` when the target does not exist.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Value and the target's alarm, per link.
    pub values: Vec<Option<(Value, AlarmStatus, AlarmSeverity)>>,
}

/// What one processing did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Processed {
    /// Events to post on VAL (0: none).
    pub val_events: u16,
    /// Other fields whose value changed (posted with DBE_VALUE|DBE_LOG).
    pub changed: Vec<&'static str>,
    /// A value to write to the OUT link.
    pub output: Option<Value>,
}

impl Record {
    /// The database links one processing reads, as (field, link): INP (or
    /// DOL in closed loop), or INPA..INPL of calc records.
    /// ([`Record::links`] gives them without a copy.)
    pub fn input_links(&self) -> Vec<(&'static str, Link)> {
        self.hot().links.inputs.clone()
    }

    /// Whether DISA equals DISV (the record is disabled); the shell reads
    /// SDIS into DISA first.
    pub fn is_disabled(&self) -> bool {
        self.hot().disabled
    }

    /// The record is disabled: STAT DISABLE with severity DISS, nothing
    /// else happens (EPICS's `dbProcess`).
    pub fn process_disabled(&mut self) -> Processed {
        let new = (AlarmStatus::DISABLE, self.sev("DISS"));
        let old = (self.status, self.severity);
        (self.status, self.severity) = new;
        let mut out = Processed {
            val_events: alarm_events(old, new),
            ..Processed::default()
        };
        if old.1 != new.1 {
            out.changed.push("SEVR");
        }
        if old.0 != new.0 {
            out.changed.push("STAT");
        }
        out
    }

    /// Process once at `now` with the values of [`Record::input_links`].
    pub fn process(&mut self, inputs: &Inputs, now: EpicsTime) -> Processed {
        let links = self.links();
        let mut nsta = AlarmStatus::NO_ALARM;
        let mut nsev = AlarmSeverity::NO_ALARM;
        let mut raise = |s: AlarmStatus, v: AlarmSeverity| {
            if v > nsev {
                nsev = v;
                nsta = s;
                true
            } else {
                false
            }
        };
        let mut got: Vec<(&str, Value)> = Vec::new();
        for (i, (field, link)) in links.inputs.iter().enumerate() {
            match inputs.values.get(i).cloned().flatten() {
                None => {
                    raise(AlarmStatus::LINK, AlarmSeverity::INVALID);
                }
                Some((v, stat, sev)) => {
                    if let Link::Db { severity, .. } = link {
                        match severity {
                            Severity::No => false,
                            Severity::Maximize => raise(AlarmStatus::LINK, sev),
                            Severity::Status => raise(stat, sev),
                            Severity::Invalid if sev == AlarmSeverity::INVALID => {
                                raise(AlarmStatus::LINK, sev)
                            }
                            Severity::Invalid => false,
                        };
                    }
                    got.push((field, v));
                }
            }
        }
        let old_nord = self.nord();
        let mut output = None;
        match self.kind {
            k if k.is_calc() => {
                let mut args = [0.0; ARGS];
                for (i, name) in super::fields::CALC_ARGS.iter().enumerate() {
                    args[i] = self.num(name);
                }
                for (field, v) in &got {
                    if let Some(i) = CALC_INPUTS.iter().position(|n| n == field) {
                        args[i] = v.as_f64().unwrap_or(0.0);
                    }
                }
                let prev = self.val_f64();
                let result = self
                    .calc
                    .as_ref()
                    .map(|c| c.evaluate(&mut args, prev, &mut self.random));
                for (i, name) in super::fields::CALC_ARGS.iter().enumerate() {
                    if let Some(idx) = self.index(name) {
                        self.store(idx, Value::Double(vec![args[i]]));
                    }
                }
                match result {
                    Some(Ok(x)) => {
                        self.val = Value::Double(vec![x]);
                        self.udf = x.is_nan();
                    }
                    _ => {
                        raise(AlarmStatus::CALC, AlarmSeverity::INVALID);
                    }
                }
                if self.kind == Kind::Calcout {
                    output = self.calcout_output(&mut args);
                }
            }
            k if k.is_output() => {
                if let Some((_, v)) = got.first() {
                    self.val = self.fit(v.clone());
                    self.udf = false;
                }
                if matches!(self.kind, Kind::Ao | Kind::Longout) {
                    let (h, l) = (self.hot().drvh, self.hot().drvl);
                    let x = self.val_f64();
                    if h > l && (x > h || x < l) {
                        self.val = self.fit(Value::Double(vec![x.clamp(l, h)]));
                    }
                }
                if self.kind == Kind::Ao {
                    self.udf = self.val_f64().is_nan();
                }
                output = Some(self.val.clone());
            }
            _ => {
                if let Some((_, v)) = got.first() {
                    if self.kind == Kind::Waveform {
                        let mut v = v.clone();
                        if v.native_type() != self.val_native {
                            v = v
                                .convert(self.val_native, &[])
                                .unwrap_or_else(|_| super::fields::zeros(self.val_native, 0));
                        }
                        if v.len() > self.val_count {
                            crate::server::pv::truncate(&mut v, self.val_count);
                        }
                        self.val = v;
                    } else {
                        self.val = self.fit(v.clone());
                    }
                    self.udf = false;
                }
                if self.kind == Kind::Ai {
                    self.udf = self.val_f64().is_nan();
                }
            }
        }
        self.stamp = now;
        let mut events = 0;
        let mut changed = Vec::new();
        self.check_alarms(&mut raise);
        // recGblResetAlarms
        let old = (self.status, self.severity);
        (self.status, self.severity) = (nsta, nsev);
        events |= alarm_events(old, (nsta, nsev));
        // SEVR before STAT, as EPICS's recGblResetAlarms posts them.
        if old.1 != nsev {
            changed.push("SEVR");
        }
        if old.0 != nsta {
            changed.push("STAT");
        }
        events |= self.monitor_events();
        if self.kind == Kind::Waveform && self.nord() != old_nord {
            changed.push("NORD");
        }
        Processed {
            val_events: events,
            changed,
            output,
        }
    }

    /// Raise the record type's alarms. `raise` returns whether it raised
    /// the new severity (EPICS's `recGblSetSevr`), which decides whether
    /// LALM follows the value (a COS alarm that raised keeps it, as EPICS).
    fn check_alarms(&mut self, raise: &mut impl FnMut(AlarmStatus, AlarmSeverity) -> bool) {
        if self.udf {
            raise(AlarmStatus::UDF, self.sev("UDFS"));
            if self.kind.is_analog() {
                return;
            }
        }
        match self.kind {
            k if k.is_analog() => {
                let limits = self.limits();
                let (s, v) = self.alarm.check(self.val_f64(), &limits);
                raise(s, v);
            }
            Kind::Bi | Kind::Bo => {
                let x = self.val_f64();
                let sev = if x == 0.0 {
                    self.sev("ZSV")
                } else {
                    self.sev("OSV")
                };
                raise(AlarmStatus::STATE, sev);
                if x != self.lalm_state && !raise(AlarmStatus::COS, self.sev("COSV")) {
                    self.lalm_state = x;
                }
            }
            Kind::Mbbi | Kind::Mbbo => {
                let x = self.val_f64();
                let sev = match MBB_SEVERITIES.get(x as usize) {
                    Some(field) => self.sev(field),
                    None => self.sev("UNSV"),
                };
                raise(AlarmStatus::STATE, sev);
                if x != self.lalm_state && !raise(AlarmStatus::COS, self.sev("COSV")) {
                    self.lalm_state = x;
                }
            }
            _ => {}
        }
    }

    /// The analog alarm limits as the alarm helper wants them.
    pub(super) fn limits(&self) -> AnalogLimits {
        *self.limits_cache.get_or_init(|| self.read_limits())
    }

    fn read_limits(&self) -> AnalogLimits {
        AnalogLimits {
            hihi: self.num("HIHI"),
            high: self.num("HIGH"),
            low: self.num("LOW"),
            lolo: self.num("LOLO"),
            hhsv: self.sev("HHSV"),
            hsv: self.sev("HSV"),
            lsv: self.sev("LSV"),
            llsv: self.sev("LLSV"),
            hyst: self.num("HYST"),
        }
    }

    /// The DBE_VALUE and DBE_LOG events this processing posts on VAL.
    fn monitor_events(&mut self) -> u16 {
        match self.kind {
            k if k.is_analog() => {
                let x = self.val_f64();
                let (mdel, adel) = (self.hot().mdel, self.hot().adel);
                let mut e = 0;
                if deadband_passed(&mut self.mlst, x, mdel) {
                    e |= mask::VALUE;
                }
                if deadband_passed(&mut self.alst, x, adel) {
                    e |= mask::LOG;
                }
                e
            }
            Kind::Stringin | Kind::Stringout => {
                let s = self.val_string();
                if s != self.last_string {
                    self.last_string = s;
                    mask::VALUE | mask::LOG
                } else {
                    0
                }
            }
            Kind::Waveform => mask::VALUE | mask::LOG,
            _ => {
                let x = self.val_f64();
                if x != self.mlst {
                    self.mlst = x;
                    mask::VALUE | mask::LOG
                } else {
                    0
                }
            }
        }
    }

    /// calcout: whether to write, and what (OOPT, DOPT, OCAL).
    fn calcout_output(&mut self, args: &mut [f64; ARGS]) -> Option<Value> {
        let val = self.val_f64();
        let pval = self.pval;
        self.pval = val;
        let write = match self.num("OOPT") as u16 {
            0 => true,
            1 => val != pval,
            2 => val == 0.0,
            3 => val != 0.0,
            4 => val == 0.0 && pval != 0.0,
            5 => val != 0.0 && pval == 0.0,
            _ => false,
        };
        if !write {
            return None;
        }
        let oval = if self.num("DOPT") == 1.0 {
            let x = self
                .ocal
                .as_ref()?
                .evaluate(args, val, &mut self.random)
                .ok()?;
            x
        } else {
            val
        };
        if let Some(idx) = self.index("OVAL") {
            self.store(idx, Value::Double(vec![oval]));
        }
        Some(Value::Double(vec![oval]))
    }
}
