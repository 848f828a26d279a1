//! Golden vectors for the DBR codec: every one of the 39 DBR types as caproto
//! 1.3.0 encodes it (tests/golden/dbr.json, made by scripts/golden/gen_dbr.py).
//! Our encoder must produce the identical bytes, and our decoder must read
//! back the same values and exactly the metadata the type carries.

use caproto::proto::dbr::{
    decode, encode, payload_size, Control, DbrType, EpicsTime, Graphics, Metadata, NativeType,
    Value,
};
use caproto::proto::status::{AlarmSeverity, AlarmStatus};
use serde_json::Value as Json;

fn load() -> Vec<Json> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/dbr.json");
    let text = std::fs::read_to_string(path).expect("golden file present");
    let doc: Json = serde_json::from_str(&text).expect("golden file is JSON");
    doc["cases"].as_array().expect("cases array").clone()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn native(name: &str) -> NativeType {
    match name {
        "STRING" => NativeType::String,
        "INT" => NativeType::Short,
        "FLOAT" => NativeType::Float,
        "ENUM" => NativeType::Enum,
        "CHAR" => NativeType::Char,
        "LONG" => NativeType::Long,
        "DOUBLE" => NativeType::Double,
        other => panic!("unknown native type {other}"),
    }
}

fn value(native: NativeType, elems: &[Json]) -> Value {
    let f = |j: &Json| j.as_f64().expect("number");
    let i = |j: &Json| j.as_i64().expect("integer");
    match native {
        NativeType::String => Value::String(
            elems
                .iter()
                .map(|j| j.as_str().expect("string").to_owned())
                .collect(),
        ),
        NativeType::Short => Value::Short(elems.iter().map(|j| i(j) as i16).collect()),
        NativeType::Float => Value::Float(elems.iter().map(|j| f(j) as f32).collect()),
        NativeType::Enum => Value::Enum(elems.iter().map(|j| i(j) as u16).collect()),
        NativeType::Char => Value::Char(elems.iter().map(|j| i(j) as u8).collect()),
        NativeType::Long => Value::Long(elems.iter().map(|j| i(j) as i32).collect()),
        NativeType::Double => Value::Double(elems.iter().map(f).collect()),
    }
}

/// The metadata a case lists; fields it does not list stay at defaults.
fn metadata(m: &Json) -> Metadata {
    let u = |k: &str| m.get(k).and_then(Json::as_u64).unwrap_or(0);
    let f = |k: &str| m.get(k).and_then(Json::as_f64).unwrap_or(0.0);
    Metadata {
        status: AlarmStatus(u("status") as u16),
        severity: AlarmSeverity(u("severity") as u16),
        stamp: EpicsTime::new(u("secs") as u32, u("nanos") as u32),
        graphics: Graphics {
            units: m
                .get("units")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_owned(),
            precision: m.get("precision").and_then(Json::as_i64).unwrap_or(0) as i16,
            upper_disp_limit: f("upper_disp_limit"),
            lower_disp_limit: f("lower_disp_limit"),
            upper_alarm_limit: f("upper_alarm_limit"),
            upper_warning_limit: f("upper_warning_limit"),
            lower_warning_limit: f("lower_warning_limit"),
            lower_alarm_limit: f("lower_alarm_limit"),
        },
        control: Control {
            upper_ctrl_limit: f("upper_ctrl_limit"),
            lower_ctrl_limit: f("lower_ctrl_limit"),
        },
        enum_strings: m
            .get("enum_strings")
            .and_then(Json::as_array)
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default(),
        ackt: u("ackt") as u16,
        acks: AlarmSeverity(u("acks") as u16),
    }
}

/// Every metadata field set, so the encoder must pick out only those the
/// type carries. Values agree with the carried ones where both exist.
fn overfilled(carried: &Metadata, listed: &Json) -> Metadata {
    let has = |k: &str| listed.get(k).is_some();
    let mut m = carried.clone();
    m.status = AlarmStatus(3);
    m.severity = AlarmSeverity(2);
    m.stamp = EpicsTime::new(1_000_000_000, 123_456_789);
    if !has("units") {
        m.graphics.units = "junk".into();
    }
    if !has("precision") {
        m.graphics.precision = 9;
    }
    if !has("upper_disp_limit") {
        let g = &mut m.graphics;
        g.upper_disp_limit = 1.0;
        g.lower_disp_limit = 2.0;
        g.upper_alarm_limit = 3.0;
        g.upper_warning_limit = 4.0;
        g.lower_warning_limit = 5.0;
        g.lower_alarm_limit = 6.0;
    }
    if !has("upper_ctrl_limit") {
        m.control = Control {
            upper_ctrl_limit: 7.0,
            lower_ctrl_limit: 8.0,
        };
    }
    if !has("enum_strings") {
        m.enum_strings = vec!["x".into()];
    }
    m.ackt = 1;
    m.acks = AlarmSeverity(2);
    m
}

#[test]
fn covers_all_39_types() {
    let cases = load();
    let mut seen: Vec<u64> = cases.iter().map(|c| c["type"].as_u64().unwrap()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, (0..=38).collect::<Vec<u64>>());
    assert!(cases.iter().any(|c| c["count"] == 0));
}

#[test]
fn encoder_matches_caproto_bytes() {
    for case in load() {
        let name = case["name"].as_str().unwrap();
        let ty = DbrType::from_code(case["type"].as_u64().unwrap() as u16).unwrap();
        let v = value(
            native(case["native"].as_str().unwrap()),
            case["value"].as_array().unwrap(),
        );
        let m = metadata(&case["meta"]);
        let want = hex(case["hex"].as_str().unwrap());

        let mut out = Vec::new();
        encode(ty, &v, &m, &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out, want, "{name}");
        assert_eq!(payload_size(ty, v.len()), want.len(), "{name}: size");

        // Fields the type does not carry must not leak into the bytes.
        let mut again = Vec::new();
        let full = overfilled(&m, &case["meta"]);
        encode(ty, &v, &full, &mut again).unwrap();
        assert_eq!(again, want, "{name}: encoded with every field set");
    }
}

#[test]
fn decoder_reads_caproto_bytes() {
    for case in load() {
        let name = case["name"].as_str().unwrap();
        let ty = DbrType::from_code(case["type"].as_u64().unwrap() as u16).unwrap();
        let count = case["count"].as_u64().unwrap() as u32;
        let want_v = value(
            native(case["native"].as_str().unwrap()),
            case["value"].as_array().unwrap(),
        );
        let want_m = metadata(&case["meta"]);
        let mut bytes = hex(case["hex"].as_str().unwrap());

        let (v, m) = decode(ty, count, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v, want_v, "{name}");
        assert_eq!(m, want_m, "{name}");

        // The same with the 8-byte alignment padding a command adds.
        bytes.resize(bytes.len().div_ceil(8) * 8, 0);
        assert_eq!(
            decode(ty, count, &bytes).unwrap().0,
            want_v,
            "{name}: padded"
        );

        // One byte short is always an error, never a panic.
        let full = hex(case["hex"].as_str().unwrap());
        if !full.is_empty() {
            assert!(
                decode(ty, count, &full[..full.len() - 1]).is_err(),
                "{name}: short"
            );
        }
    }
}
