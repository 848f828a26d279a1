//! Unit tests of conversions and caput-style parsing.

use super::*;

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn numeric_casts_truncate_and_saturate() {
    let v = Value::Double(vec![1.9, -1.9, 1e10, -1e10, f64::NAN, 40000.0]);
    assert_eq!(
        v.convert(NativeType::Short, &[]).unwrap(),
        Value::Short(vec![1, -1, i16::MAX, i16::MIN, 0, i16::MAX])
    );
    assert_eq!(
        v.convert(NativeType::Long, &[]).unwrap(),
        Value::Long(vec![1, -1, i32::MAX, i32::MIN, 0, 40000])
    );
    assert_eq!(
        v.convert(NativeType::Char, &[]).unwrap(),
        Value::Char(vec![1, 0, 255, 0, 0, 255])
    );
    assert_eq!(
        v.convert(NativeType::Enum, &[]).unwrap(),
        Value::Enum(vec![1, 0, u16::MAX, 0, 0, 40000])
    );
    let f = Value::Double(vec![1e300, f64::INFINITY])
        .convert(NativeType::Float, &[])
        .unwrap();
    assert_eq!(f, Value::Float(vec![f32::MAX, f32::INFINITY]));
    assert_eq!(
        Value::Long(vec![70000, -70000])
            .convert(NativeType::Short, &[])
            .unwrap(),
        Value::Short(vec![i16::MAX, i16::MIN])
    );
    assert_eq!(
        Value::Char(vec![200])
            .convert(NativeType::Double, &[])
            .unwrap(),
        Value::Double(vec![200.0])
    );
}

#[test]
fn numbers_format_like_epics() {
    assert_eq!(format_double(2.71828, 2), "2.72");
    assert_eq!(format_double(2.71828, 0), "2");
    assert_eq!(format_double(0.125, 2), "0.13"); // EPICS rounds half up
    assert_eq!(format_double(-2.5, 0), "-3");
    assert_eq!(format_double(-0.0, 1), "0.0");
    assert_eq!(format_double(9.9999, 3), "10.000");
    assert_eq!(format_double(1.5, 6), "1.500000");
    assert_eq!(format_double(12345678.9, 6), "12345678.900");
    assert_eq!(format_double(1e20, 3), " 1.000e+20"); // checked against softIoc + caget
    assert_eq!(format_double(1.5e-5, 10), " 1.5000000000e-05");
    assert_eq!(format_double(f64::NAN, 2), "nan");
    assert_eq!(format_double(f64::NEG_INFINITY, 2), "     -inf"); // C "%9.2e"
    assert_eq!(format_float(2.5, 1), "2.5");
    assert_eq!(format_float(1e9, 2), "1.00e+09");
    assert_eq!(
        Value::Double(vec![1.0, 2.25])
            .convert(NativeType::String, &[])
            .unwrap(),
        Value::String(strs(&["1.000000", "2.250000"]))
    );
    assert_eq!(
        Value::Double(vec![2.25])
            .convert_with_precision(NativeType::String, &[], 1)
            .unwrap(),
        Value::String(strs(&["2.3"]))
    );
    assert_eq!(
        Value::Long(vec![-7, 0])
            .convert(NativeType::String, &[])
            .unwrap(),
        Value::String(strs(&["-7", "0"]))
    );
    assert_eq!(
        Value::Char(vec![72, 105])
            .convert(NativeType::String, &[])
            .unwrap(),
        Value::String(strs(&["72", "105"]))
    );
}

#[test]
fn strings_parse_to_numbers() {
    let v = Value::String(strs(&[" 12 ", "-3.7", "1e3", "", "0x1f", "+5"]));
    assert_eq!(
        v.convert(NativeType::Long, &[]).unwrap(),
        Value::Long(vec![12, -3, 1000, 0, 31, 5])
    );
    assert_eq!(
        Value::String(strs(&["1.5", "-inf", ""]))
            .convert(NativeType::Double, &[])
            .unwrap(),
        Value::Double(vec![1.5, f64::NEG_INFINITY, 0.0])
    );
    assert_eq!(
        Value::String(strs(&["255", "-1"]))
            .convert(NativeType::Char, &[])
            .unwrap(),
        Value::Char(vec![255, 255])
    );
}

#[test]
fn bad_strings_are_typed_errors() {
    let conv = |s: &str, to| Value::String(strs(&[s])).convert(to, &[]);
    assert_eq!(
        conv("abc", NativeType::Double),
        Err(DbrError::BadNumber {
            text: "abc".into(),
            to: NativeType::Double
        })
    );
    assert!(matches!(
        conv("1.5x", NativeType::Long),
        Err(DbrError::BadNumber { .. })
    ));
    assert!(matches!(
        conv("0x", NativeType::Long),
        Err(DbrError::BadNumber { .. })
    ));
    assert_eq!(
        conv("40000", NativeType::Short),
        Err(DbrError::OutOfRange {
            text: "40000".into(),
            to: NativeType::Short
        })
    );
    assert!(matches!(
        conv("1e40", NativeType::Float),
        Err(DbrError::OutOfRange { .. })
    ));
    assert!(matches!(
        conv("1e300", NativeType::Long),
        Err(DbrError::OutOfRange { .. })
    ));
    assert!(matches!(
        conv("256", NativeType::Char),
        Err(DbrError::OutOfRange { .. })
    ));
    assert_eq!(
        conv("abc", NativeType::Double).unwrap_err().to_string(),
        "\"abc\" is not a valid DOUBLE value"
    );
}

#[test]
fn enums_go_through_their_strings() {
    let states = strs(&["Off", "On"]);
    assert_eq!(
        Value::Enum(vec![1, 0, 7])
            .convert(NativeType::String, &states)
            .unwrap(),
        Value::String(strs(&["On", "Off", "7"]))
    );
    assert_eq!(
        Value::String(strs(&["On", "0"]))
            .convert(NativeType::Enum, &states)
            .unwrap(),
        Value::Enum(vec![1, 0])
    );
    assert_eq!(
        Value::String(strs(&["Maybe"])).convert(NativeType::Enum, &states),
        Err(DbrError::BadEnumString {
            text: "Maybe".into(),
            states: 2
        })
    );
    assert!(Value::String(strs(&["2"]))
        .convert(NativeType::Enum, &states)
        .is_err());
    // Without state strings any index is accepted.
    assert_eq!(
        Value::String(strs(&["9"]))
            .convert(NativeType::Enum, &[])
            .unwrap(),
        Value::Enum(vec![9])
    );
    assert_eq!(
        Value::Enum(vec![1])
            .convert(NativeType::Double, &states)
            .unwrap(),
        Value::Double(vec![1.0])
    );
}

#[test]
fn caput_style_parsing() {
    let states = strs(&["Off", "On"]);
    assert_eq!(
        Value::from_strings(NativeType::Double, &["1.5", "2"], &[]).unwrap(),
        Value::Double(vec![1.5, 2.0])
    );
    assert_eq!(
        Value::from_strings(NativeType::Enum, &["On"], &states).unwrap(),
        Value::Enum(vec![1])
    );
    assert_eq!(
        Value::from_strings(NativeType::String, &["hello world"], &[]).unwrap(),
        Value::String(strs(&["hello world"]))
    );
    assert_eq!(
        Value::from_strings(NativeType::String, &[&"z".repeat(40)], &[]),
        Err(DbrError::StringTooLong {
            field: "value",
            len: 40,
            max: 39
        })
    );
    assert_eq!(
        Value::from_strings(NativeType::Long, &[], &[]).unwrap(),
        Value::Long(vec![])
    );
}

#[test]
fn long_strings_through_char_arrays() {
    let text = "a string longer than forty bytes, in a CHAR waveform";
    let v = Value::from_long_string(text);
    assert_eq!(v.len(), text.len() + 1);
    assert_eq!(v.to_long_string().as_deref(), Some(text));
    assert_eq!(
        Value::Char(b"abc\0junk".to_vec())
            .to_long_string()
            .as_deref(),
        Some("abc")
    );
    assert_eq!(Value::Double(vec![1.0]).to_long_string(), None);
}

#[test]
fn same_type_and_empty_conversions() {
    let v = Value::Float(vec![1.5]);
    assert_eq!(v.convert(NativeType::Float, &[]).unwrap(), v);
    for to in NativeType::ALL {
        let empty = Value::Double(vec![]).convert(to, &[]).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.native_type(), to);
    }
}
