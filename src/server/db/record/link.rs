//! Link fields (INP, OUT, DOL, INPA..INPL, SDIS, FLNK) as text and as what
//! they mean: a constant, or another record's field with its process
//! (NPP/PP/CP/CPP) and maximize-severity (NMS/MS/MSS/MSI) options.

/// What a link asks of the record it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Process {
    /// NPP (the default): read or write without processing.
    #[default]
    NoProcess,
    /// PP: process the target (a passive input before reading; an output after writing).
    Process,
    /// CP: process this record whenever the target posts a value or alarm.
    ChannelProcess,
    /// CPP: as CP, only while this record's SCAN is Passive.
    ChannelProcessPassive,
}

/// How the target's alarm severity passes to the reading record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    /// NMS (the default): not at all.
    #[default]
    No,
    /// MS: the severity, with status LINK.
    Maximize,
    /// MSS: the severity and the status.
    Status,
    /// MSI: the severity only when it is INVALID.
    Invalid,
}

/// A parsed link field.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Link {
    /// Empty.
    #[default]
    None,
    /// A constant (`3.5`, or text for string records).
    Constant(String),
    /// A field of a record: `NAME[.FIELD] [PP|NPP|CP|CPP] [MS|NMS|MSS|MSI]`.
    Db {
        /// The record.
        record: String,
        /// The field (`VAL` unless given).
        field: String,
        /// Processing option.
        process: Process,
        /// Severity option.
        severity: Severity,
    },
}

impl Link {
    /// Parse a link field's text.
    pub fn parse(text: &str) -> Link {
        let text = text.trim();
        if text.is_empty() {
            return Link::None;
        }
        if text.parse::<f64>().is_ok() || text.starts_with('"') || text.starts_with('{') {
            return Link::Constant(text.trim_matches('"').to_string());
        }
        let mut words = text.split_whitespace();
        let target = words.next().unwrap_or_default();
        let (record, field) = match target.split_once('.') {
            Some((r, f)) if !f.is_empty() => (r, f.trim_end_matches('$')),
            _ => (target, "VAL"),
        };
        let mut process = Process::NoProcess;
        let mut severity = Severity::No;
        for w in words {
            match w {
                "PP" => process = Process::Process,
                "NPP" => process = Process::NoProcess,
                "CP" => process = Process::ChannelProcess,
                "CPP" => process = Process::ChannelProcessPassive,
                "MS" => severity = Severity::Maximize,
                "NMS" => severity = Severity::No,
                "MSS" => severity = Severity::Status,
                "MSI" => severity = Severity::Invalid,
                _ => {}
            }
        }
        Link::Db {
            record: record.to_string(),
            field: field.to_string(),
            process,
            severity,
        }
    }

    /// The text EPICS shows when the link field is read: a database link
    /// as `REC[.FIELD] NPP|PP|CP|CPP NMS|MS|MSS|MSI`, a forward link
    /// (`forward`) as the record name alone, a constant as given.
    pub fn display(&self, forward: bool) -> String {
        match self {
            Link::None => String::new(),
            Link::Constant(c) => c.clone(),
            Link::Db { record, .. } if forward => record.clone(),
            Link::Db {
                record,
                field,
                process,
                severity,
            } => {
                let target = if field == "VAL" {
                    record.clone()
                } else {
                    format!("{record}.{field}")
                };
                let p = match process {
                    Process::NoProcess => "NPP",
                    Process::Process => "PP",
                    Process::ChannelProcess => "CP",
                    Process::ChannelProcessPassive => "CPP",
                };
                let m = match severity {
                    Severity::No => "NMS",
                    Severity::Maximize => "MS",
                    Severity::Status => "MSS",
                    Severity::Invalid => "MSI",
                };
                format!("{target} {p} {m}")
            }
        }
    }

    /// The constant's value as a number, if this is a numeric constant.
    pub fn constant_f64(&self) -> Option<f64> {
        match self {
            Link::Constant(c) => c.parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links() {
        assert_eq!(Link::parse(""), Link::None);
        assert_eq!(Link::parse(" 2.5 "), Link::Constant("2.5".into()));
        assert_eq!(
            Link::parse("x:ai.HIHI CP MS"),
            Link::Db {
                record: "x:ai".into(),
                field: "HIHI".into(),
                process: Process::ChannelProcess,
                severity: Severity::Maximize,
            }
        );
        assert_eq!(
            Link::parse("x:ai PP"),
            Link::Db {
                record: "x:ai".into(),
                field: "VAL".into(),
                process: Process::Process,
                severity: Severity::No,
            }
        );
        assert_eq!(Link::parse("1e3").constant_f64(), Some(1000.0));
        assert_eq!(Link::parse("x CP").display(false), "x CP NMS");
        assert_eq!(Link::parse("x.HIHI PP MS").display(false), "x.HIHI PP MS");
        assert_eq!(Link::parse("x PP").display(true), "x");
    }
}
