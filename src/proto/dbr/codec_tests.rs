//! Unit tests of the codec: round trips, exact bytes of a few layouts, and
//! rejection of malformed payloads.

use super::*;

fn t(code: u16) -> DbrType {
    DbrType::from_code(code).unwrap()
}

fn meta() -> Metadata {
    Metadata {
        status: AlarmStatus(3),
        severity: AlarmSeverity(2),
        stamp: EpicsTime::new(1_000_000_000, 123_456_789),
        graphics: Graphics {
            units: "mm".into(),
            precision: 3,
            upper_disp_limit: 100.0,
            lower_disp_limit: -100.0,
            upper_alarm_limit: 90.0,
            upper_warning_limit: 80.0,
            lower_warning_limit: -80.0,
            lower_alarm_limit: -90.0,
        },
        control: Control {
            upper_ctrl_limit: 95.0,
            lower_ctrl_limit: -95.0,
        },
        enum_strings: vec!["Off".into(), "On".into()],
        ackt: 1,
        acks: AlarmSeverity(2),
    }
}

/// The metadata `dbr_type` carries, the rest left at defaults.
fn carried(dbr_type: DbrType, m: &Metadata) -> Metadata {
    let mut bytes = Vec::new();
    let v = sample(dbr_type.native(), 1);
    encode(dbr_type, &v, m, &mut bytes).unwrap();
    decode(dbr_type, 1, &bytes).unwrap().1
}

fn sample(native: NativeType, n: usize) -> Value {
    let v = Value::Double((0..n).map(|i| i as f64 + 1.0).collect());
    v.convert(native, &[]).unwrap()
}

#[test]
fn every_type_round_trips_with_any_count() {
    let m = meta();
    for code in 0..=DbrType::MAX_CODE {
        let ty = t(code);
        for n in [0usize, 1, 5] {
            let v = sample(ty.native(), n);
            let mut out = Vec::new();
            encode(ty, &v, &m, &mut out).unwrap();
            assert_eq!(out.len(), payload_size(ty, n), "{ty} x{n}");
            let (v2, m2) = decode(ty, n as u32, &out).unwrap();
            assert_eq!(v2, v, "{ty} x{n}");
            assert_eq!(m2, carried(ty, &m), "{ty} x{n}");
        }
    }
}

#[test]
fn time_double_bytes() {
    let mut out = Vec::new();
    encode(t(20), &Value::Double(vec![1.5]), &meta(), &mut out).unwrap();
    let mut want = vec![0, 3, 0, 2];
    want.extend_from_slice(&1_000_000_000u32.to_be_bytes());
    want.extend_from_slice(&123_456_789u32.to_be_bytes());
    want.extend_from_slice(&[0; 4]);
    want.extend_from_slice(&1.5f64.to_be_bytes());
    assert_eq!(out, want);
}

#[test]
fn ctrl_enum_carries_strings() {
    let mut out = Vec::new();
    encode(t(31), &Value::Enum(vec![1]), &meta(), &mut out).unwrap();
    assert_eq!(out.len(), 424);
    assert_eq!(&out[4..6], &[0, 2]);
    assert_eq!(&out[6..9], b"Off");
    assert_eq!(&out[32..34], b"On");
    assert_eq!(&out[422..], &[0, 1]);
    let (v, m) = decode(t(31), 1, &out).unwrap();
    assert_eq!(v, Value::Enum(vec![1]));
    assert_eq!(m.enum_strings, vec!["Off", "On"]);
}

#[test]
fn metadata_by_class() {
    let m = meta();
    let sts = carried(t(13), &m);
    assert_eq!((sts.status, sts.severity), (m.status, m.severity));
    assert_eq!(sts.stamp, EpicsTime::default());
    let gr = carried(t(27), &m);
    assert_eq!(gr.graphics, m.graphics);
    assert_eq!(gr.control, Control::default());
    let ctrl = carried(t(34), &m);
    assert_eq!(ctrl.control, m.control);
    // Integer GR types carry no precision.
    assert_eq!(carried(t(29), &m).graphics.precision, 0);
    let ack = carried(DbrType::StsackString, &m);
    assert_eq!((ack.ackt, ack.acks), (1, AlarmSeverity(2)));
}

#[test]
fn truncated_payloads_are_errors() {
    let mut out = Vec::new();
    encode(t(34), &Value::Double(vec![1.0, 2.0]), &meta(), &mut out).unwrap();
    for cut in [0, 1, 40, out.len() - 1] {
        assert_eq!(
            decode(t(34), 2, &out[..cut]),
            Err(DbrError::Truncated {
                needed: 96,
                got: cut
            })
        );
    }
    // A count the bytes cannot hold.
    assert!(matches!(
        decode(DbrType::DOUBLE, 3, &out[..16]),
        Err(DbrError::Truncated { needed: 24, .. })
    ));
    assert!(matches!(
        decode(DbrType::DOUBLE, u32::MAX, &out),
        Err(DbrError::Truncated { .. } | DbrError::CountTooLarge(_))
    ));
    // Trailing padding is ignored.
    let mut padded = out.clone();
    padded.extend_from_slice(&[0; 8]);
    assert!(decode(t(34), 2, &padded).is_ok());
}

#[test]
fn bad_enum_count_is_an_error() {
    let mut out = Vec::new();
    encode(t(24), &Value::Enum(vec![0]), &meta(), &mut out).unwrap();
    out[4..6].copy_from_slice(&17i16.to_be_bytes());
    assert_eq!(decode(t(24), 1, &out), Err(DbrError::BadEnumCount(17)));
    out[4..6].copy_from_slice(&(-1i16).to_be_bytes());
    assert_eq!(decode(t(24), 1, &out), Err(DbrError::BadEnumCount(-1)));
}

#[test]
fn strings_without_nul_and_non_utf8_decode() {
    let mut bytes = vec![b'x'; 40];
    bytes.extend_from_slice(b"caf\xe9\0");
    bytes.resize(80, 0xff);
    let (v, _) = decode(t(0), 2, &bytes).unwrap();
    // The 40th byte of a full field is its terminator, as in C peers.
    assert_eq!(v, Value::String(vec!["x".repeat(39), "café".into()]));
}

#[test]
fn encode_rejects_bad_input_and_appends_nothing() {
    let mut out = vec![9];
    let m = meta();
    assert_eq!(
        encode(t(20), &Value::Long(vec![1]), &m, &mut out),
        Err(DbrError::WrongValueType {
            dbr_type: t(20),
            got: NativeType::Long
        })
    );
    let long = Value::String(vec!["y".repeat(40)]);
    assert_eq!(
        encode(t(14), &long, &m, &mut out),
        Err(DbrError::StringTooLong {
            field: "value",
            len: 40,
            max: 39
        })
    );
    let mut units = m.clone();
    units.graphics.units = "too long".into();
    assert!(matches!(
        encode(t(34), &Value::Double(vec![1.0]), &units, &mut out),
        Err(DbrError::StringTooLong { field: "units", .. })
    ));
    let mut many = m.clone();
    many.enum_strings = (0..17).map(|i| i.to_string()).collect();
    assert_eq!(
        encode(t(31), &Value::Enum(vec![0]), &many, &mut out),
        Err(DbrError::TooManyEnumStrings(17))
    );
    assert_eq!(out, vec![9]);
    // PUT_ACKT accepts an ENUM value too.
    encode(DbrType::PutAckt, &Value::Enum(vec![1]), &m, &mut out).unwrap();
    assert_eq!(out, vec![9, 0, 1]);
}

#[test]
fn limits_saturate_into_narrow_types() {
    let mut m = meta();
    m.graphics.upper_disp_limit = 1e9;
    m.graphics.lower_disp_limit = -1.0;
    let mut out = Vec::new();
    encode(t(25), &Value::Char(vec![7]), &m, &mut out).unwrap();
    // GR_CHAR: status, severity, units[8], then u8 limits.
    assert_eq!(&out[12..14], &[255, 0]);
    let (_, back) = decode(t(25), 1, &out).unwrap();
    assert_eq!(back.graphics.upper_disp_limit, 255.0);
}

#[test]
fn bad_type_code() {
    assert_eq!(DbrType::try_from_code(39), Err(DbrError::BadType(39)));
    assert_eq!(DbrType::try_from_code(20), Ok(t(20)));
    assert_eq!(
        DbrError::BadType(39).to_string(),
        "unknown DBR type code 39 (valid: 0..=38)"
    );
}

#[test]
fn random_payloads_never_panic() {
    // Deterministic xorshift noise: every type, many counts and lengths.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..4000 {
        let code = (next() % 39) as u16;
        let len = (next() % 600) as usize;
        let count = match next() % 4 {
            0 => 0,
            1 => 1,
            2 => (next() % 20) as u32,
            _ => next() as u32,
        };
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let ty = t(code);
        match decode(ty, count, &bytes) {
            Ok((v, _)) => {
                assert_eq!(v.len(), count as usize);
                assert!(payload_size(ty, v.len()) <= bytes.len());
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// Strings as peers really send them (not UTF-8, or filling all 40 bytes)
/// decode to text that re-encodes to the same bytes; found by scripts/fuzz.
#[test]
fn received_strings_re_encode_byte_for_byte() {
    let t = DbrType::plain(NativeType::String);
    let mut latin1 = vec![0xE9u8; 39];
    latin1.push(0);
    let mut full = vec![b'x'; 40];
    full[0] = b'a';
    for wire in [latin1.clone(), full] {
        let (value, meta) = decode(t, 1, &wire).unwrap();
        let mut again = Vec::new();
        encode(t, &value, &meta, &mut again).unwrap();
        assert_eq!(decode(t, 1, &again).unwrap().0, value);
    }
    let (value, meta) = decode(t, 1, &latin1).unwrap();
    assert_eq!(value, Value::String(vec!["\u{e9}".repeat(39)]));
    let mut again = Vec::new();
    encode(t, &value, &meta, &mut again).unwrap();
    assert_eq!(again, latin1);
}

#[test]
fn one_element_writes_decode_as_plain_writes_do() {
    for native in NativeType::ALL {
        let ty = DbrType::plain(native);
        let written = Value::Double(vec![-7.0]).convert(native, &[]).unwrap();
        let mut bytes = Vec::new();
        encode(ty, &written, &Metadata::default(), &mut bytes).unwrap();
        let (mut one, mut into) = (sample(native, 1), sample(native, 1));
        let taken = decode_plain_one(ty, &bytes, &mut one);
        let general = decode_plain_into(ty, 1, &bytes, &mut into);
        assert_eq!(taken, general, "{ty}");
        assert_eq!(one, into, "{ty}");
        if native != NativeType::String {
            assert_eq!((taken, &one), (Ok(true), &written), "{ty}");
            let short = &bytes[..bytes.len().min(payload_size(ty, 1)) - 1];
            let mut left = sample(native, 1);
            assert_eq!(
                decode_plain_one(ty, short, &mut left),
                decode_plain_into(ty, 1, short, &mut sample(native, 1)),
                "{ty} truncated"
            );
            assert_eq!(left, sample(native, 1), "{ty}: unchanged when truncated");
        }
        // Not one element, not this type, not plain: left to the caller.
        let mut two = sample(native, 2);
        assert_eq!(decode_plain_one(ty, &bytes, &mut two), Ok(false), "{ty}");
        assert_eq!(two, sample(native, 2));
        let other = if native == NativeType::Long {
            NativeType::Short
        } else {
            NativeType::Long
        };
        let mut v = sample(other, 1);
        assert_eq!(decode_plain_one(ty, &bytes, &mut v), Ok(false), "{ty}");
        let ctrl = DbrType::Value(DbrClass::Ctrl, native);
        let mut v = sample(native, 1);
        assert_eq!(decode_plain_one(ctrl, &bytes, &mut v), Ok(false), "{ty}");
    }
}
