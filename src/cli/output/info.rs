//! What caproto-info prints: EPICS `cainfo`'s block per PV (and, with
//! metadata, the lines `caget -d DBR_CTRL_...` prints for it), or one JSON
//! object per PV and line.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::cli::output::numfmt::format_g;
use crate::proto::command::AccessRights;
use crate::proto::dbr::{DbrClass, DbrType, Metadata, NativeType};

/// The facts about one connected PV.
#[derive(Debug, Clone, PartialEq)]
pub struct PvInfo {
    /// The PV name.
    pub name: String,
    /// The server as cainfo names it: host name (when known) and port.
    pub host: String,
    /// The server's address.
    pub server: SocketAddr,
    /// Access rights granted to us.
    pub access: AccessRights,
    /// The field's native type.
    pub native: NativeType,
    /// The field's element count.
    pub count: u32,
    /// Metadata read as this DBR type, when asked for.
    pub meta: Option<(DbrType, Metadata)>,
}

/// cainfo's `Access:` text.
pub fn access_text(a: AccessRights) -> &'static str {
    match (a.read, a.write) {
        (true, true) => "read, write",
        (true, false) => "read, no write",
        (false, true) => "no read, write",
        (false, false) => "no read, no write",
    }
}

/// cainfo's block for one PV, each line ending in a newline.
pub fn cainfo_text(info: &PvInfo) -> String {
    let mut s = String::new();
    let native = info.native.epics_name();
    let _ = writeln!(s, "{}", info.name);
    let _ = writeln!(s, "    State:            connected");
    let _ = writeln!(s, "    Host:             {}", info.host);
    let _ = writeln!(s, "    Access:           {}", access_text(info.access));
    let _ = writeln!(s, "    Native data type: DBF_{native}");
    let _ = writeln!(s, "    Request type:     DBR_{native}");
    let _ = writeln!(s, "    Element count:    {}", info.count);
    if let Some((dbr_type, meta)) = &info.meta {
        metadata_lines(&mut s, *dbr_type, meta);
    }
    s
}

/// The limits as caget prints them: `%g` for FLOAT/DOUBLE, `%8d` for integers.
fn limit(native: NativeType, x: f64) -> String {
    match native {
        NativeType::Float | NativeType::Double => format_g(x, 6),
        // C's conversion truncates toward zero; out-of-range values saturate here.
        _ => format!("{:8}", x as i64),
    }
}

/// The metadata lines `caget -d` prints after `Element count:` (status and
/// severity; units, precision, limits; or enum strings), for `dbr_type`.
fn metadata_lines(s: &mut String, dbr_type: DbrType, meta: &Metadata) {
    let DbrType::Value(class, native) = dbr_type else {
        return;
    };
    if class == DbrClass::Plain || class == DbrClass::Time {
        return;
    }
    let _ = writeln!(s, "    Status:           {}", meta.status);
    let _ = writeln!(s, "    Severity:         {}", meta.severity);
    if class == DbrClass::Sts || native == NativeType::String {
        return;
    }
    if native == NativeType::Enum {
        let _ = writeln!(s, "    Enums:            ({:2})", meta.enum_strings.len());
        for (i, text) in meta.enum_strings.iter().enumerate() {
            let _ = writeln!(s, "                      [{i:2}] {text}");
        }
        return;
    }
    let g = &meta.graphics;
    let _ = writeln!(s, "    Units:            {}", g.units);
    if matches!(native, NativeType::Float | NativeType::Double) {
        let _ = writeln!(s, "    Precision:        {}", g.precision);
    }
    for (label, x) in [
        ("Lo disp limit:    ", g.lower_disp_limit),
        ("Hi disp limit:    ", g.upper_disp_limit),
        ("Lo alarm limit:   ", g.lower_alarm_limit),
        ("Lo warn limit:    ", g.lower_warning_limit),
        ("Hi warn limit:    ", g.upper_warning_limit),
        ("Hi alarm limit:   ", g.upper_alarm_limit),
    ] {
        let _ = writeln!(s, "    {label}{}", limit(native, x));
    }
    if class == DbrClass::Ctrl {
        let c = &meta.control;
        let _ = writeln!(
            s,
            "    Lo ctrl limit:    {}",
            limit(native, c.lower_ctrl_limit)
        );
        let _ = writeln!(
            s,
            "    Hi ctrl limit:    {}",
            limit(native, c.upper_ctrl_limit)
        );
    }
}

/// A JSON string literal (escaped by the logging's JSON writer, so the two agree).
pub fn json_string(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    crate::log::json::push_string(&mut s, text);
    s
}

/// A JSON number; NaN and infinities (which JSON lacks) become `null`.
fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

/// One JSON object (no trailing newline) with the same facts as [`cainfo_text`].
pub fn json_text(info: &PvInfo) -> String {
    let native = info.native.epics_name();
    let mut s = format!(
        "{{\"pv\":{},\"state\":\"connected\",\"host\":{},\"address\":\"{}\",\
         \"access\":{{\"read\":{},\"write\":{}}},\"native_type\":\"DBF_{native}\",\
         \"request_type\":\"DBR_{native}\",\"element_count\":{}",
        json_string(&info.name),
        json_string(&info.host),
        info.server,
        info.access.read,
        info.access.write,
        info.count,
    );
    if let Some((DbrType::Value(class, native), meta)) = &info.meta {
        let _ = write!(
            s,
            ",\"status\":{},\"severity\":{}",
            json_string(&meta.status.to_string()),
            json_string(&meta.severity.to_string())
        );
        if matches!(class, DbrClass::Gr | DbrClass::Ctrl) {
            if *native == NativeType::Enum {
                let strings: Vec<String> =
                    meta.enum_strings.iter().map(|t| json_string(t)).collect();
                let _ = write!(s, ",\"enum_strings\":[{}]", strings.join(","));
            } else if *native != NativeType::String {
                let g = &meta.graphics;
                let _ = write!(s, ",\"units\":{}", json_string(&g.units));
                if matches!(native, NativeType::Float | NativeType::Double) {
                    let _ = write!(s, ",\"precision\":{}", g.precision);
                }
                let mut limits = vec![
                    ("lower_disp_limit", g.lower_disp_limit),
                    ("upper_disp_limit", g.upper_disp_limit),
                    ("lower_alarm_limit", g.lower_alarm_limit),
                    ("lower_warning_limit", g.lower_warning_limit),
                    ("upper_warning_limit", g.upper_warning_limit),
                    ("upper_alarm_limit", g.upper_alarm_limit),
                ];
                if *class == DbrClass::Ctrl {
                    limits.push(("lower_ctrl_limit", meta.control.lower_ctrl_limit));
                    limits.push(("upper_ctrl_limit", meta.control.upper_ctrl_limit));
                }
                for (key, x) in limits {
                    let _ = write!(s, ",\"{key}\":{}", json_number(x));
                }
            }
        }
    }
    s.push('}');
    s
}

/// The JSON object for a PV that could not be inspected.
pub fn json_error(pv: &str, state: &str, error: &str) -> String {
    format!(
        "{{\"pv\":{},\"state\":{},\"error\":{}}}",
        json_string(pv),
        json_string(state),
        json_string(error)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dbr::{Control, Graphics};
    use crate::proto::status::{AlarmSeverity, AlarmStatus};

    fn ai(meta: Option<(DbrType, Metadata)>) -> PvInfo {
        PvInfo {
            name: "T:ai".into(),
            host: "localhost:5064".into(),
            server: "127.0.0.1:5064".parse().unwrap(),
            access: AccessRights::READ_WRITE,
            native: NativeType::Double,
            count: 1,
            meta,
        }
    }

    fn ctrl_meta() -> Metadata {
        Metadata {
            status: AlarmStatus::default(),
            severity: AlarmSeverity::default(),
            graphics: Graphics {
                units: "mm".into(),
                precision: 3,
                upper_disp_limit: 100.0,
                lower_disp_limit: -100.0,
                upper_alarm_limit: 90.0,
                upper_warning_limit: 50.0,
                lower_warning_limit: -50.0,
                lower_alarm_limit: f64::NAN,
            },
            control: Control {
                upper_ctrl_limit: 100.0,
                lower_ctrl_limit: -100.0,
            },
            ..Metadata::default()
        }
    }

    #[test]
    fn cainfo_block_matches_epics_layout() {
        assert_eq!(
            cainfo_text(&ai(None)),
            "T:ai\n    State:            connected\n    Host:             localhost:5064\n    \
             Access:           read, write\n    Native data type: DBF_DOUBLE\n    \
             Request type:     DBR_DOUBLE\n    Element count:    1\n"
        );
        let mut ro = ai(None);
        ro.access.write = false;
        ro.native = NativeType::Short;
        let text = cainfo_text(&ro);
        assert!(
            text.contains("Access:           read, no write\n"),
            "{text}"
        );
        assert!(text.contains("Native data type: DBF_SHORT\n"), "{text}");
    }

    #[test]
    fn control_lines_follow_caget() {
        let t = DbrType::Value(DbrClass::Ctrl, NativeType::Double);
        let text = cainfo_text(&ai(Some((t, ctrl_meta()))));
        let tail: Vec<&str> = text.lines().skip(7).collect();
        assert_eq!(
            tail,
            [
                "    Status:           NO_ALARM",
                "    Severity:         NO_ALARM",
                "    Units:            mm",
                "    Precision:        3",
                "    Lo disp limit:    -100",
                "    Hi disp limit:    100",
                "    Lo alarm limit:   nan",
                "    Lo warn limit:    -50",
                "    Hi warn limit:    50",
                "    Hi alarm limit:   90",
                "    Lo ctrl limit:    -100",
                "    Hi ctrl limit:    100",
            ]
        );
        // Integers: %8d, no precision.
        let mut long = ai(Some((
            DbrType::Value(DbrClass::Gr, NativeType::Long),
            ctrl_meta(),
        )));
        long.native = NativeType::Long;
        let text = cainfo_text(&long);
        assert!(text.contains("    Hi disp limit:         100\n"), "{text}");
        assert!(!text.contains("Precision"), "{text}");
        assert!(!text.contains("ctrl limit"), "{text}");
    }

    #[test]
    fn enum_strings_are_listed() {
        let meta = Metadata {
            enum_strings: vec!["zero".into(), "one".into()],
            ..Metadata::default()
        };
        let mut e = ai(Some((
            DbrType::Value(DbrClass::Ctrl, NativeType::Enum),
            meta,
        )));
        e.native = NativeType::Enum;
        let text = cainfo_text(&e);
        assert!(
            text.ends_with(
                "    Enums:            ( 2)\n                      [ 0] zero\n                      [ 1] one\n"
            ),
            "{text}"
        );
        assert!(json_text(&e).contains("\"enum_strings\":[\"zero\",\"one\"]"));
    }

    #[test]
    fn json_has_the_same_facts() {
        let t = DbrType::Value(DbrClass::Ctrl, NativeType::Double);
        let j = json_text(&ai(Some((t, ctrl_meta()))));
        assert!(j.starts_with("{\"pv\":\"T:ai\",\"state\":\"connected\",\"host\":\"localhost:5064\",\"address\":\"127.0.0.1:5064\",\"access\":{\"read\":true,\"write\":true},\"native_type\":\"DBF_DOUBLE\",\"request_type\":\"DBR_DOUBLE\",\"element_count\":1,\"status\":\"NO_ALARM\""), "{j}");
        assert!(j.contains("\"lower_alarm_limit\":null"), "{j}");
        assert!(j.contains("\"upper_ctrl_limit\":100}"), "{j}");
        assert_eq!(json_string("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
