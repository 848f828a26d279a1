//! Expected lines are real caproto 1.3.0 output, captured by running
//! caproto-get / caproto-put / caproto-monitor against softIoc and caproto's
//! `scalars_and_arrays` example (machine time zone UTC, hence `Zone::Utc`).

#![allow(clippy::approx_constant)] // 3.14159 is the test IOC's value, not an approximation of pi.

use super::*;
use crate::cli::output::numfmt::Radix;
use crate::proto::dbr::{EpicsTime, Metadata, NativeType, Value, EPICS_EPOCH_OFFSET_SECS};

fn reading(class: DbrClass, value: Value) -> Response {
    let native = value.native_type();
    Response::normal(crate::client::Reading {
        dbr_type: DbrType::Value(class, native),
        value,
        meta: Metadata::default(),
    })
}

/// A TIME reading stamped at the given POSIX seconds and microseconds.
fn timed(value: Value, posix: u64, micros: u32) -> Response {
    let mut r = reading(DbrClass::Time, value);
    r.reading.meta.stamp = EpicsTime {
        secs: (posix - EPICS_EPOCH_OFFSET_SECS) as u32,
        nanos: micros * 1000,
    };
    r
}

fn get(mode: Mode, data: DataFormat, pv: &str, r: &Response) -> String {
    LineFormat::get(mode, data, Zone::Utc)
        .unwrap()
        .line(pv, r, Extras::default())
        .unwrap()
}

fn plain(pv: &str, r: &Response) -> String {
    get(Mode::Default, DataFormat::default(), pv, r)
}

fn with_float(style: FloatStyle) -> DataFormat {
    DataFormat {
        float: style,
        ..DataFormat::default()
    }
}

#[test]
fn default_get_lines() {
    let cases = [
        (
            "arr:scalar_int",
            Value::Long(vec![1]),
            "arr:scalar_int                            [1]",
        ),
        (
            "arr:scalar_float",
            Value::Double(vec![1.01]),
            "arr:scalar_float                          [1.01]",
        ),
        (
            "arr:array_string",
            Value::String(vec!["string1".into(), "string2".into()]),
            "arr:array_string                          [string1 string2]",
        ),
        (
            "arr:byte",
            Value::Char(b"byte0123".to_vec()),
            "arr:byte                                  [98 121 116 101 48 49 50 51]",
        ),
        (
            "arr:enum",
            Value::String(vec!["no".into()]),
            "arr:enum                                  [no]",
        ),
        (
            "t:wf",
            Value::Double(vec![1.0, 2.5, 3.0]),
            "t:wf                                      [1 2.5 3]",
        ),
        (
            "t:long",
            Value::Long(vec![12345678]),
            "t:long                                    [1.23457e+07]",
        ),
        (
            "t:long",
            Value::Long(vec![-5]),
            "t:long                                    [-5]",
        ),
        (
            "t:ai",
            Value::Float(vec![3.14159]),
            "t:ai                                      [3.14159]",
        ),
        (
            "t:bi",
            Value::Enum(vec![1]),
            "t:bi                                      [1]",
        ),
    ];
    for (pv, value, expected) in cases {
        assert_eq!(plain(pv, &reading(DbrClass::Plain, value)), expected);
    }
}

#[test]
fn float_and_int_styles() {
    let ai = reading(DbrClass::Plain, Value::Double(vec![3.14159]));
    let pad = "t:ai                                      ";
    let cases = [
        (FloatStyle::Exp(3), "[3.142e+00]"),
        (FloatStyle::Fixed(2), "[3.14]"),
        (FloatStyle::GeneralPrec(2), "[3.1]"),
        (FloatStyle::ServerString, "[3.141590]"),
        (FloatStyle::Rounded(Radix::Hex), "[0x3]"),
        (FloatStyle::Rounded(Radix::Octal), "[0o3]"),
        (FloatStyle::Rounded(Radix::Binary), "[0b11]"),
    ];
    for (style, expected) in cases {
        assert_eq!(
            get(Mode::Default, with_float(style), "t:ai", &ai),
            format!("{pad}{expected}")
        );
    }
    let long = reading(DbrClass::Plain, Value::Long(vec![12345678]));
    let hex = DataFormat {
        int_radix: Some(Radix::Hex),
        ..DataFormat::default()
    };
    assert_eq!(
        get(Mode::Default, hex, "t:long", &long),
        "t:long                                    [0xBC614E]"
    );
    let oct = DataFormat {
        int_radix: Some(Radix::Octal),
        ..DataFormat::default()
    };
    assert_eq!(get(Mode::Terse, oct, "t:long", &long), "0o57060516");
    let wf = reading(DbrClass::Plain, Value::Double(vec![1.0, 2.5, 3.0]));
    assert_eq!(
        get(Mode::Terse, with_float(FloatStyle::Exp(3)), "t:wf", &wf),
        "[1.000e+00 2.500e+00 3.000e+00]"
    );
    // Float styles apply to FLOAT (float32) values too, as in caget.
    let f32v = reading(DbrClass::Plain, Value::Float(vec![3.14159]));
    assert_eq!(
        get(Mode::Terse, with_float(FloatStyle::Fixed(2)), "x", &f32v),
        "3.14"
    );
}

#[test]
fn terse_unpacks_scalars_only() {
    let one = reading(DbrClass::Plain, Value::Long(vec![1]));
    let two = reading(
        DbrClass::Plain,
        Value::String(vec!["string1".into(), "string2".into()]),
    );
    let empty = reading(DbrClass::Plain, Value::Double(vec![]));
    let d = DataFormat::default();
    assert_eq!(get(Mode::Terse, d.clone(), "a", &one), "1");
    assert_eq!(get(Mode::Terse, d.clone(), "a", &two), "[string1 string2]");
    assert_eq!(get(Mode::Terse, d.clone(), "a", &empty), "[]");
    assert_eq!(
        get(Mode::Default, d, "a", &empty),
        format!("{:<40}  []", "a")
    );
}

#[test]
fn char_arrays_as_strings() {
    let s = DataFormat {
        char_as_string: true,
        ..DataFormat::default()
    };
    let chars = reading(DbrClass::Plain, Value::Char(b"char0123".to_vec()));
    assert_eq!(
        get(Mode::Default, s.clone(), "arr:char", &chars),
        "arr:char                                  char0123"
    );
    assert_eq!(get(Mode::Terse, s.clone(), "arr:char", &chars), "char0123");
    // Text ends at the first NUL (caproto would print the NUL too).
    let cwf = reading(DbrClass::Plain, Value::Char(b"hi there\0".to_vec()));
    assert_eq!(get(Mode::Terse, s, "t:cwf", &cwf), "hi there");
}

#[test]
fn separator_option() {
    let sep = DataFormat {
        separator: Some("*".into()),
        ..DataFormat::default()
    };
    let v = reading(
        DbrClass::Plain,
        Value::String(vec!["string1".into(), "string2".into()]),
    );
    assert_eq!(
        get(Mode::Default, sep.clone(), "arr:array_string", &v),
        "arr:array_string*[string1*string2]"
    );
    assert_eq!(
        get(Mode::Terse, sep, "arr:array_string", &v),
        "[string1*string2]"
    );
}

#[test]
fn wide_lines() {
    let d = DataFormat::default();
    let r = timed(Value::Double(vec![1.01]), 1_795_587_094, 513_471);
    assert_eq!(
        get(Mode::Wide, d.clone(), "arr:scalar_float", &r),
        "arr:scalar_float 2026-11-25 06:11:34.513471 [1.01] ECA_NORMAL"
    );
    let zero = timed(Value::Double(vec![3.14159]), EPICS_EPOCH_OFFSET_SECS, 0);
    assert_eq!(
        get(Mode::Wide, d.clone(), "t:ai", &zero),
        "t:ai 1990-01-01 00:00:00 [3.14159] ECA_NORMAL"
    );
    let en = timed(Value::Enum(vec![0]), 1_795_587_094, 513_829);
    assert_eq!(
        get(Mode::Wide, d, "arr:enum", &en),
        "arr:enum 2026-11-25 06:11:34.513829 [0] ECA_NORMAL"
    );
}

#[test]
fn custom_formats() {
    let d = DataFormat::default();
    let r = timed(Value::Long(vec![3]), 1_795_587_094, 513_422);
    let custom = |f: &str| get(Mode::Custom(f.into()), d.clone(), "arr:array_int", &r);
    assert_eq!(
        custom("{response.data_type}|{response.data_count}|{response.metadata.timestamp}|{response.metadata.status}|{response.metadata.severity}"),
        "19|1|1795587094.513422|0|0"
    );
    assert_eq!(
        custom("{pv_name:>20}|{timestamp:%H:%M}|{timestamp}"),
        "       arr:array_int|06:11|2026-11-25 06:11:34.513422"
    );
    assert_eq!(
        custom("{response.status.name}|{response.data[0]}"),
        "ECA_NORMAL|3"
    );
    assert_eq!(
        custom("{response.metadata}"),
        "DBR_TIME_LONG(status=0, severity=0, timestamp=1795587094.513422)"
    );
    // A plain-type read has no timestamp: a typed error, not a panic.
    let untimed = reading(DbrClass::Plain, Value::Double(vec![1.01]));
    let err = LineFormat::get(Mode::Custom("{pv_name}|{timestamp}".into()), d, Zone::Utc)
        .unwrap()
        .line("arr:scalar_float", &untimed, Extras::default())
        .unwrap_err();
    assert_eq!(err, TemplateError::UnknownField("timestamp".into()));
}

#[test]
fn ctrl_metadata_fields() {
    let mut r = reading(DbrClass::Ctrl, Value::Double(vec![3.14159]));
    r.reading.meta.graphics.units = "mm".into();
    r.reading.meta.graphics.precision = 3;
    r.reading.meta.graphics.upper_disp_limit = 10.0;
    r.reading.meta.control.lower_ctrl_limit = -10.0;
    let line = get(
        Mode::Custom("{response.metadata.units} {response.metadata.precision} {response.metadata.upper_disp_limit} {response.metadata.lower_ctrl_limit}".into()),
        DataFormat::default(),
        "t:ai",
        &r,
    );
    assert_eq!(line, "b'mm' 3 10.0 -10.0");
    assert_eq!(r.reading.dbr_type.native(), NativeType::Double);
}

#[test]
fn monitor_lines() {
    let d = DataFormat::default();
    let r = timed(Value::Double(vec![990.0]), 1_795_587_229, 165_485);
    let m = LineFormat::monitor(None, d.clone(), Zone::Utc).unwrap();
    assert_eq!(
        m.line("t:calc", &r, Extras::default()).unwrap(),
        "t:calc                                    2026-11-25 06:13:49.165485 [990]"
    );
    let zero = timed(Value::Double(vec![3.14159]), EPICS_EPOCH_OFFSET_SECS, 0);
    assert_eq!(
        m.line("t:ai", &zero, Extras::default()).unwrap(),
        "t:ai                                      1990-01-01 00:00:00.000000 [3.14159]"
    );
    let custom = LineFormat::monitor(
        Some("{pv_name}|{callback_count}|{timedelta}|{timestamp}|{response.data}".into()),
        d.clone(),
        Zone::Utc,
    )
    .unwrap();
    let r2 = timed(Value::Double(vec![994.0]), 1_795_587_229, 565_509);
    let extras = Extras {
        callback_count: Some(1),
        timedelta: Some(45_780),
        ..Extras::default()
    };
    assert_eq!(
        custom.line("t:calc", &r2, extras).unwrap(),
        "t:calc|1|0:00:00.045780|2026-11-25 06:13:49.565509|[994]"
    );
    let sep = DataFormat {
        separator: Some("|".into()),
        ..d
    };
    let r3 = timed(Value::Double(vec![998.0]), 1_795_587_229, 965_507);
    assert_eq!(
        LineFormat::monitor(None, sep, Zone::Utc)
            .unwrap()
            .line("t:calc", &r3, Extras::default())
            .unwrap(),
        "t:calc|2026-11-25 06:13:49.965507|[998]"
    );
    let wf = timed(
        Value::Double(vec![1.0, 2.0, 3.0, 4.0]),
        1_795_587_183,
        761_741,
    );
    assert_eq!(
        LineFormat::monitor(None, with_float(FloatStyle::Exp(2)), Zone::Utc)
            .unwrap()
            .line("t:wf", &wf, Extras::default())
            .unwrap(),
        "t:wf                                      2026-11-25 06:13:03.761741 [1.00e+00 2.00e+00 3.00e+00 4.00e+00]"
    );
}

#[test]
fn put_lines() {
    let old = Extras {
        which: Some("Old"),
        ..Extras::default()
    };
    let new = Extras {
        which: Some("New"),
        ..Extras::default()
    };
    let p = LineFormat::put(Mode::Default, Zone::Utc).unwrap();
    let r = reading(DbrClass::Plain, Value::Double(vec![1.5]));
    assert_eq!(
        p.line("t:ao", &r, old).unwrap(),
        "Old : t:ao                                      [1.5]"
    );
    let wf = reading(DbrClass::Plain, Value::Double(vec![1.0, 2.0, 3.0, 4.0]));
    assert_eq!(
        p.line("t:wf", &wf, new).unwrap(),
        "New : t:wf                                      [1. 2. 3. 4.]"
    );
    let s = reading(DbrClass::Plain, Value::String(vec!["two".into()]));
    assert_eq!(
        p.line("t:mbbo", &s, old).unwrap(),
        "Old : t:mbbo                                    [b'two']"
    );
    let t = LineFormat::put(Mode::Terse, Zone::Utc).unwrap();
    let three = reading(DbrClass::Plain, Value::Double(vec![3.0]));
    assert_eq!(t.line("t:ao", &three, new).unwrap(), "3.0");
    assert_eq!(t.line("t:wf", &wf, new).unwrap(), "[1. 2. 3. 4.]");
    assert_eq!(t.line("t:mbbo", &s, new).unwrap(), "b'two'");
    let w = LineFormat::put(Mode::Wide, Zone::Utc).unwrap();
    let tr = timed(Value::Double(vec![3.0]), 1_795_587_181, 533_124);
    assert_eq!(
        w.line("t:ao", &tr, new).unwrap(),
        "t:ao 2026-11-25 06:13:01.533124 [3.] ECA_NORMAL"
    );
    let c = LineFormat::put(
        Mode::Custom("{which}|{pv_name}|{response.data}".into()),
        Zone::Utc,
    )
    .unwrap();
    let one = reading(DbrClass::Plain, Value::Double(vec![1.0]));
    assert_eq!(c.line("t:ao", &one, new).unwrap(), "New|t:ao|[1.]");
}

#[test]
fn integer_types_have_integer_limits() {
    let mut r = reading(DbrClass::Ctrl, Value::Long(vec![42]));
    r.reading.meta.graphics.upper_disp_limit = 1000.0;
    r.reading.meta.control.lower_ctrl_limit = -1000.0;
    let line = get(
        Mode::Custom(
            "{response.metadata.upper_disp_limit} {response.metadata.lower_ctrl_limit}".into(),
        ),
        DataFormat::default(),
        "t:longin",
        &r,
    );
    assert_eq!(line, "1000 -1000");
}

/// `write_line` output for a reading, as text.
fn written(fmt: &LineFormat, pv: &str, r: &Response, bufs: &mut LineBuffers) -> String {
    let mut out = Vec::new();
    fmt.write_line(pv, r, Extras::default(), bufs, &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn write_line_streams_large_arrays_unchanged() {
    // Larger than several chunks: the streamed line equals the one built whole.
    let big: Vec<f64> = (0..300_000).map(|i| f64::from(i) * 0.37 - 5000.0).collect();
    let r = timed(Value::Double(big), 1_795_587_229, 165_485);
    let mut bufs = LineBuffers::default();
    let formats = [
        LineFormat::get(Mode::Default, DataFormat::default(), Zone::Utc).unwrap(),
        LineFormat::get(Mode::Wide, with_float(FloatStyle::Exp(3)), Zone::Utc).unwrap(),
        LineFormat::get(
            Mode::Custom("{response.data_count}|{response.data}|{timestamp:%H:%M:%S.%f}".into()),
            DataFormat::default(),
            Zone::Utc,
        )
        .unwrap(),
        LineFormat::monitor(None, DataFormat::default(), Zone::Utc).unwrap(),
    ];
    for fmt in &formats {
        let whole = fmt.line("t:big", &r, Extras::default()).unwrap();
        assert!(whole.len() > 1_000_000);
        assert_eq!(written(fmt, "t:big", &r, &mut bufs), format!("{whole}\n"));
    }
    let ints = reading(DbrClass::Plain, Value::Long((0..100_000).collect()));
    let hex = DataFormat {
        int_radix: Some(Radix::Hex),
        separator: Some(",".into()),
        ..DataFormat::default()
    };
    let fmt = LineFormat::get(Mode::Terse, hex, Zone::Utc).unwrap();
    let whole = fmt.line("t:ints", &ints, Extras::default()).unwrap();
    assert!(whole.starts_with("[0x0,0x1,0x2,"), "{}", &whole[..20]);
    assert_eq!(
        written(&fmt, "t:ints", &ints, &mut bufs),
        format!("{whole}\n")
    );
}

#[test]
fn write_line_reuses_buffers_and_writes_nothing_on_error() {
    let mut bufs = LineBuffers::default();
    let m = LineFormat::monitor(None, DataFormat::default(), Zone::Utc).unwrap();
    let a = timed(Value::Double(vec![990.0]), 1_795_587_229, 165_485);
    let b = timed(Value::Double(vec![991.5]), 1_795_587_230, 7);
    assert_eq!(
        written(&m, "t:calc", &a, &mut bufs),
        "t:calc                                    2026-11-25 06:13:49.165485 [990]\n"
    );
    assert_eq!(
        written(&m, "t:calc", &b, &mut bufs),
        "t:calc                                    2026-11-25 06:13:50.000007 [991.5]\n"
    );
    // The data field with a spec is rendered whole, then padded.
    let padded = LineFormat::get(
        Mode::Custom("{response.data:>8}|{response.data!r}".into()),
        DataFormat::default(),
        Zone::Utc,
    )
    .unwrap();
    assert_eq!(
        written(&padded, "t:ai", &a, &mut bufs),
        "   [990]|'[990]'\n"
    );
    // A field that does not apply (no timestamp on a plain read) after the
    // data: an error, and not a byte written.
    let plain = reading(DbrClass::Plain, Value::Double(vec![1.0; 100_000]));
    let bad = LineFormat::get(
        Mode::Custom("{pv_name} {response.data} {timestamp}".into()),
        DataFormat::default(),
        Zone::Utc,
    )
    .unwrap();
    let mut out = Vec::new();
    let err = bad
        .write_line("t:wf", &plain, Extras::default(), &mut bufs, &mut out)
        .unwrap_err();
    assert!(
        matches!(err, LineError::Template(TemplateError::UnknownField(ref f)) if f == "timestamp"),
        "{err}"
    );
    assert!(out.is_empty());
}

#[test]
fn write_line_reports_a_closed_output() {
    struct Closed;
    impl std::io::Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let fmt = LineFormat::get(Mode::Default, DataFormat::default(), Zone::Utc).unwrap();
    let r = reading(DbrClass::Plain, Value::Double(vec![2.0; 50_000]));
    let err = fmt
        .write_line(
            "t:wf",
            &r,
            Extras::default(),
            &mut LineBuffers::default(),
            &mut Closed,
        )
        .unwrap_err();
    assert!(matches!(err, LineError::Io(_)), "{err}");
}
