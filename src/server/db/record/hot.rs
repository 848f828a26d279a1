//! What every processing of a record reads from its fields, resolved once
//! and kept until a field is written.
//!
//! A put to VAL processes the record, and a processing used to look up a
//! dozen fields by name (SCAN, DISA, DISV, MDEL, ADEL, the links...) and
//! parse its links from text each time: most of a put's cost. [`Hot`] holds
//! those values; [`Record::store`](super::Record) drops it (with the other
//! caches) whenever a field that feeds it changes, so it never disagrees
//! with the fields.

use std::sync::Arc;

use super::link::Link;
use super::process::CALC_INPUTS;
use super::{Kind, Record};

/// The links one processing follows, parsed from the link fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// SDIS: where DISA is read from before the record processes.
    pub sdis: Link,
    /// The database input links read by a processing, as (field, link):
    /// INP (or DOL in closed loop), or INPA..INPL of calc records.
    pub inputs: Vec<(&'static str, Link)>,
    /// OUT: where an output record writes.
    pub out: Link,
    /// FLNK: the record processed after this one.
    pub flnk: Link,
}

/// Field values each processing reads.
#[derive(Debug, Clone)]
pub(super) struct Hot {
    pub(super) passive: bool,
    pub(super) disabled: bool,
    pub(super) mdel: f64,
    pub(super) adel: f64,
    pub(super) drvh: f64,
    pub(super) drvl: f64,
    /// No SDIS, input, OUT or FLNK link to a record.
    pub(super) linkless: bool,
    /// A client's write to VAL may take [`Record::put_val_quick`]: an
    /// analog record (not calc) that is passive, enabled and linkless.
    pub(super) quick: bool,
    /// HHSV, HSV, LSV and LLSV are all NO_ALARM: the limits raise nothing.
    pub(super) alarms_off: bool,
    /// An ao or longout whose drive limits clamp a write (DRVH > DRVL).
    pub(super) clamps: bool,
    pub(super) links: Arc<Links>,
}

impl Record {
    /// The processing's field values, read from the fields on first use
    /// after a write.
    pub(super) fn hot(&self) -> &Hot {
        self.hot_cache.get_or_init(|| {
            let links = Links {
                sdis: self.link("SDIS"),
                inputs: self.read_input_links(),
                out: self.link("OUT"),
                flnk: self.link("FLNK"),
            };
            let db = |l: &Link| matches!(l, Link::Db { .. });
            let passive = self.num("SCAN") == 0.0;
            let disabled = self.num("DISA") == self.num("DISV");
            let linkless =
                !db(&links.sdis) && links.inputs.is_empty() && !db(&links.out) && !db(&links.flnk);
            let limits = self.limits();
            let off = crate::proto::status::AlarmSeverity::NO_ALARM;
            let (drvh, drvl) = (self.num("DRVH"), self.num("DRVL"));
            Hot {
                passive,
                disabled,
                mdel: self.num("MDEL"),
                adel: self.num("ADEL"),
                drvh,
                drvl,
                linkless,
                quick: passive
                    && !disabled
                    && linkless
                    && matches!(
                        self.kind,
                        Kind::Ai | Kind::Ao | Kind::Longin | Kind::Longout
                    ),
                alarms_off: [limits.hhsv, limits.hsv, limits.lsv, limits.llsv]
                    .iter()
                    .all(|&s| s == off),
                clamps: matches!(self.kind, Kind::Ao | Kind::Longout) && drvh > drvl,
                links: Arc::new(links),
            }
        })
    }

    /// Whether the record has no SDIS, input, OUT or FLNK link to a
    /// record: a processing then reads and writes nothing but itself.
    pub fn is_linkless(&self) -> bool {
        self.hot().linkless
    }

    /// The links a processing follows (shared: the shell reads them with
    /// the record unlocked).
    pub fn links(&self) -> Arc<Links> {
        Arc::clone(&self.hot().links)
    }

    fn read_input_links(&self) -> Vec<(&'static str, Link)> {
        let names: &[&'static str] = match self.rtyp {
            "calc" | "calcout" => &CALC_INPUTS,
            "ao" | "bo" | "mbbo" | "longout" | "stringout" => {
                if self.num("OMSL") == 1.0 {
                    &["DOL"]
                } else {
                    &[]
                }
            }
            _ => &["INP"],
        };
        names
            .iter()
            .map(|n| (*n, self.link(n)))
            .filter(|(_, l)| matches!(l, Link::Db { .. }))
            .collect()
    }
}
