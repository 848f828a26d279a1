//! Number-to-text conversions that match what caproto's tools print: C/Python
//! `printf`-style `%e`, `%f` and `%g`, and Python's shortest `repr` of floats.
//!
//! Rust's own float formatting differs in exponent spelling (`1e5` rather
//! than `1e+05`) and never switches to scientific notation, so the tools need
//! these to print byte-for-byte what users of caproto-get/caget expect.

use std::fmt::Write as _;

/// Text Python prints for a non-finite float, or `None` for a finite one.
fn non_finite(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("nan")
    } else if x == f64::INFINITY {
        Some("inf")
    } else if x == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// Split Rust's `{:e}` output (`"-1.25e-3"`) into mantissa and exponent.
fn split_exp(s: &str) -> (&str, i32) {
    match s.split_once('e') {
        Some((mant, exp)) => (mant, exp.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

/// Write an exponent the C way: sign always, at least two digits.
fn c_exponent(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("e{sign}{:02}", exp.unsigned_abs())
}

/// Append `%.{prec}e`, e.g. `3.142e+00` for `(3.14159, 3)`.
pub fn write_e(out: &mut String, x: f64, prec: usize) {
    if let Some(s) = non_finite(x) {
        out.push_str(s);
        return;
    }
    let start = out.len();
    let _ = write!(out, "{x:.prec$e}");
    // Rust writes `e-3` / `e5`; C writes `e-03` / `e+05`.
    let e_at = out[start..].rfind('e').map_or(out.len(), |i| start + i);
    let exp: i32 = out[e_at + 1..].parse().unwrap_or(0);
    out.truncate(e_at);
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
}

/// `%.{prec}e`, e.g. `format_e(3.14159, 3) == "3.142e+00"`.
pub fn format_e(x: f64, prec: usize) -> String {
    let mut s = String::new();
    write_e(&mut s, x, prec);
    s
}

/// Append `%.{prec}f`, e.g. `3.14` for `(3.14159, 2)`.
pub fn write_f(out: &mut String, x: f64, prec: usize) {
    match non_finite(x) {
        Some(s) => out.push_str(s),
        None => {
            let _ = write!(out, "{x:.prec$}");
        }
    }
}

/// `%.{prec}f`, e.g. `format_f(3.14159, 2) == "3.14"`.
pub fn format_f(x: f64, prec: usize) -> String {
    let mut s = String::new();
    write_f(&mut s, x, prec);
    s
}

/// Append `%.{prec}g` (C semantics; precision 0 means 1): the shorter of
/// `%e` and `%f` by the C rule, trailing zeros removed.
pub fn write_g(out: &mut String, x: f64, prec: usize) {
    crate::cli::output::gfmt::write_g(out, x, prec);
}

/// `%.{prec}g` (C semantics; precision 0 means 1): the shorter of `%e` and
/// `%f` by the C rule, trailing zeros removed. `format_g(12345678.0, 6) == "1.23457e+07"`.
pub fn format_g(x: f64, prec: usize) -> String {
    let mut s = String::new();
    write_g(&mut s, x, prec);
    s
}

/// Shortest decimal digits and decimal exponent of a finite float, from
/// Rust's round-trip `{:e}` text: `(digits without point, exponent, negative)`.
pub(crate) fn shortest_digits(sci: &str) -> (String, i32, bool) {
    let (mant, exp) = split_exp(sci);
    let negative = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp, negative)
}

/// Lay out shortest digits the way Python's `repr(float)` does: positional
/// for exponents in `-4..16`, scientific otherwise; `1.0`, `1e-05`, `1e+16`.
fn python_repr_from(sci: &str) -> String {
    let (digits, exp, negative) = shortest_digits(sci);
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        format!("{sign}{mant}{}", c_exponent(exp))
    }
}

/// Python's `repr()` / `str()` of a float (also numpy's `str` of a float64 scalar).
pub fn py_repr_f64(x: f64) -> String {
    match non_finite(x) {
        Some(s) => s.to_string(),
        None => python_repr_from(&format!("{x:e}")),
    }
}

/// numpy's `str()` of a float32 scalar: the shortest digits that round-trip
/// *as a float32*, laid out like Python's float repr.
pub fn py_repr_f32(x: f32) -> String {
    match non_finite(f64::from(x)) {
        Some(s) => s.to_string(),
        None => python_repr_from(&format!("{x:e}")),
    }
}

/// Append Python's `format(n, 'X'|'o'|'b')` with caproto's prefix put in
/// front of the sign (caproto prints `0x-5` for -5; we keep that for compatibility).
pub fn write_radix(out: &mut String, n: i64, radix: Radix) {
    out.push_str(radix.prefix());
    if n < 0 {
        out.push('-');
    }
    let mag = n.unsigned_abs();
    let _ = match radix {
        Radix::Hex => write!(out, "{mag:X}"),
        Radix::Octal => write!(out, "{mag:o}"),
        Radix::Binary => write!(out, "{mag:b}"),
    };
}

/// Python's `format(n, 'X'|'o'|'b')` with caproto's prefix put in front of
/// the sign (caproto prints `0x-5` for -5; we keep that for compatibility).
pub fn format_radix(n: i64, radix: Radix) -> String {
    let mut s = String::new();
    write_radix(&mut s, n, radix);
    s
}

/// A non-decimal integer base selectable with `-0x`/`-0o`/`-0b` or `-lx`/`-lo`/`-lb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Radix {
    /// Upper-case hexadecimal, `0x` prefix.
    Hex,
    /// Octal, `0o` prefix.
    Octal,
    /// Binary, `0b` prefix.
    Binary,
}

impl Radix {
    /// The prefix caproto prints before the digits.
    pub fn prefix(self) -> &'static str {
        match self {
            Radix::Hex => "0x",
            Radix::Octal => "0o",
            Radix::Binary => "0b",
        }
    }
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // 3.14159 is a test IOC's value, not an approximation of pi.
mod tests {
    use super::*;

    /// Expected strings come from Python 3.11: `repr(v)`, `'{:g}'`, `'{:.3e}'`, `'{:.2f}'`, `'{:.2g}'`.
    #[test]
    fn matches_python_for_a_spread_of_values() {
        let cases: &[(f64, &str, &str, &str, &str, &str)] = &[
            (0.0, "0.0", "0", "0.000e+00", "0.00", "0"),
            (-0.0, "-0.0", "-0", "-0.000e+00", "-0.00", "-0"),
            (1.0, "1.0", "1", "1.000e+00", "1.00", "1"),
            (3.14159, "3.14159", "3.14159", "3.142e+00", "3.14", "3.1"),
            (1.01, "1.01", "1.01", "1.010e+00", "1.01", "1"),
            (
                12345678.0,
                "12345678.0",
                "1.23457e+07",
                "1.235e+07",
                "12345678.00",
                "1.2e+07",
            ),
            (
                1e20,
                "1e+20",
                "1e+20",
                "1.000e+20",
                "100000000000000000000.00",
                "1e+20",
            ),
            (1e-5, "1e-05", "1e-05", "1.000e-05", "0.00", "1e-05"),
            (0.0001, "0.0001", "0.0001", "1.000e-04", "0.00", "0.0001"),
            (
                123456.0,
                "123456.0",
                "123456",
                "1.235e+05",
                "123456.00",
                "1.2e+05",
            ),
            (
                1234567.0,
                "1234567.0",
                "1.23457e+06",
                "1.235e+06",
                "1234567.00",
                "1.2e+06",
            ),
            (2.5, "2.5", "2.5", "2.500e+00", "2.50", "2.5"),
            (-3.5, "-3.5", "-3.5", "-3.500e+00", "-3.50", "-3.5"),
            (f64::INFINITY, "inf", "inf", "inf", "inf", "inf"),
            (f64::NAN, "nan", "nan", "nan", "nan", "nan"),
            (
                1e16,
                "1e+16",
                "1e+16",
                "1.000e+16",
                "10000000000000000.00",
                "1e+16",
            ),
            (
                1e15,
                "1000000000000000.0",
                "1e+15",
                "1.000e+15",
                "1000000000000000.00",
                "1e+15",
            ),
            (
                0.1 + 0.2,
                "0.30000000000000004",
                "0.3",
                "3.000e-01",
                "0.30",
                "0.3",
            ),
        ];
        for &(v, repr, g, e3, f2, g2) in cases {
            assert_eq!(py_repr_f64(v), repr, "repr {v}");
            assert_eq!(format_g(v, 6), g, "g {v}");
            assert_eq!(format_e(v, 3), e3, "e3 {v}");
            assert_eq!(format_f(v, 2), f2, "f2 {v}");
            assert_eq!(format_g(v, 2), g2, "g2 {v}");
        }
    }

    #[test]
    fn float32_repr_uses_float32_shortest_digits() {
        assert_eq!(py_repr_f32(1.01), "1.01");
        assert_eq!(py_repr_f32(3.0), "3.0");
        assert_eq!(f64::from(1.01f32).to_string(), "1.0099999904632568");
    }

    #[test]
    fn radix_matches_caproto() {
        assert_eq!(format_radix(12345678, Radix::Hex), "0xBC614E");
        assert_eq!(
            format_radix(12345678, Radix::Binary),
            "0b101111000110000101001110"
        );
        assert_eq!(format_radix(12345678, Radix::Octal), "0o57060516");
        assert_eq!(format_radix(-5, Radix::Hex), "0x-5");
    }
}
