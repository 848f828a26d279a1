//! `type_varieties`: one PV per native type, as a scalar and as an array,
//! plus enums, strings, read-only PVs and an `ai`-like PV with units,
//! precision, display/alarm/control limits (its CTRL metadata matches what
//! an EPICS `ai` record with the same fields reports).

use super::ExampleOptions;
use crate::server::{Pv, PvGroup};

/// Build the group.
pub fn build(prefix: &str, _: &ExampleOptions) -> PvGroup {
    let mut g = PvGroup::new(prefix);
    // Scalars, one per native type.
    g.add(Pv::new("string", "hello"));
    g.add(Pv::new("short", 7i16).units("cnt"));
    g.add(Pv::new("float", 1.5f32).precision(2).units("V"));
    g.add(Pv::enumerated("enum", &["Off", "On", "Fault"], 1));
    g.add(Pv::new("char", 65u8));
    g.add(Pv::new("long", 123456i32));
    g.add(Pv::new("double", 3.25f64).precision(4));
    // Arrays.
    g.add(Pv::new(
        "string_array",
        vec!["a".to_string(), "bc".into(), "def".into()],
    ));
    g.add(Pv::new("short_array", vec![1i16, -2, 3]));
    g.add(Pv::new("float_array", vec![0.5f32, 1.5, 2.5]).precision(1));
    g.add(Pv::new("char_array", b"text\0\0\0\0\0\0".to_vec()));
    g.add(Pv::new("long_array", vec![10i32, 20, 30, 40]));
    g.add(Pv::new("double_array", vec![1.0f64, 2.0, 3.0]).max_count(10));
    // Read-only.
    g.add(Pv::new("ro_double", 9.75f64).read_only());
    g.add(Pv::new("ro_string", "fixed").read_only());
    g.add(Pv::enumerated("bool", &["Off", "On"], 0).read_only());
    // Like `record(ai) { EGU mm PREC 3 HOPR 100 LOPR -100 HIHI 90 HIGH 50 LOW -50 LOLO -90 }`:
    // an ai's control limits are its display limits.
    g.add(
        Pv::new("ai", 3.5f64)
            .record_type("ai")
            .units("mm")
            .precision(3)
            .display_limits(-100.0, 100.0)
            .control_limits(-100.0, 100.0)
            .alarm_limits(-90.0, -50.0, 50.0, 90.0),
    );
    g
}
