//! How caproto-put prints values: it shows the response's numpy array with
//! `str()` (`[1.  2.5 3. ]`, `[104 105  32]`) and strings as a Python list of
//! bytes (`[b'a', b'b']`). This module reproduces numpy's default layout
//! (shortest digits capped at 8 decimals, common padding, scientific notation
//! for wide ranges, 75-column wrapping, `...` summaries above 1000 elements).

use crate::cli::output::numfmt::{py_repr_f32, py_repr_f64, shortest_digits};
use crate::proto::dbr::Value;

const LINE_WIDTH: usize = 75;
const PRECISION: usize = 8;
const SUMMARY_THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;

/// Python's `repr(bytes)`: `b'two'`, escaping quotes, backslashes and
/// unprintable bytes.
pub fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// numpy's `str()` of one element (what `{response.data[0]}` prints).
pub fn element_str(value: &Value, i: usize) -> Option<String> {
    Some(match value {
        Value::String(v) => bytes_repr(v.get(i)?.as_bytes()),
        Value::Short(v) => v.get(i)?.to_string(),
        Value::Float(v) => py_repr_f32(*v.get(i)?),
        Value::Enum(v) => v.get(i)?.to_string(),
        Value::Char(v) => v.get(i)?.to_string(),
        Value::Long(v) => v.get(i)?.to_string(),
        Value::Double(v) => py_repr_f64(*v.get(i)?),
    })
}

/// The indices numpy shows: all, or the first and last three with a gap.
fn shown(len: usize) -> (Vec<usize>, bool) {
    if len > SUMMARY_THRESHOLD {
        let mut idx: Vec<usize> = (0..EDGE_ITEMS).collect();
        idx.extend(len - EDGE_ITEMS..len);
        (idx, true)
    } else {
        ((0..len).collect(), false)
    }
}

/// numpy's `str()` of a whole array, or Python's list repr for strings.
pub fn array_str(value: &Value) -> String {
    match value {
        Value::String(v) => {
            let items: Vec<String> = v.iter().map(|s| bytes_repr(s.as_bytes())).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Short(v) => int_array(&v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()),
        Value::Enum(v) => int_array(&v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()),
        Value::Char(v) => int_array(&v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()),
        Value::Long(v) => int_array(&v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()),
        Value::Double(v) => float_array_with(v, &|i| format!("{:e}", v[i]), 1e8),
        Value::Float(v) => {
            let wide: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
            // Digits are chosen for float32 so 1.01f32 prints as 1.01, and
            // numpy switches to scientific from 1e6 for float32.
            float_array_with(&wide, &|i| format!("{:e}", v[i]), 1e6)
        }
    }
}

fn int_array(v: &[i64]) -> String {
    let (idx, summary) = shown(v.len());
    let width = idx
        .iter()
        .map(|&i| v[i].to_string().len())
        .max()
        .unwrap_or(0);
    let words: Vec<String> = idx.iter().map(|&i| format!("{:>width$}", v[i])).collect();
    layout(words, summary)
}

/// numpy's positional form with unique digits, at most 8 decimals, zeros trimmed, point kept.
fn positional(x: f64, sci: &str) -> (String, String) {
    let (digits, exp, negative) = shortest_digits(sci);
    let frac_needed = (digits.len() as i32 - 1 - exp).max(0) as usize;
    let text = if frac_needed > PRECISION {
        let t = format!("{:.*}", PRECISION, x.abs());
        t.trim_end_matches('0').to_string()
    } else {
        format!("{:.*}", frac_needed, x.abs())
    };
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let sign = if negative { "-" } else { "" };
    (format!("{sign}{int}"), frac.to_string())
}

/// numpy's scientific form: `(int part with sign, fraction digits, exponent)`.
fn scientific(x: f64, sci: &str) -> (String, String, i32) {
    let (digits, exp, negative) = shortest_digits(sci);
    let sign = if negative { "-" } else { "" };
    if digits.len() - 1 > PRECISION {
        let t = format!("{:.*e}", PRECISION, x.abs());
        let (mant, e) = t.split_once('e').unwrap_or((&t, "0"));
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        (
            format!("{sign}{int}"),
            frac.trim_end_matches('0').to_string(),
            e.parse().unwrap_or(exp),
        )
    } else {
        let (int, frac) = digits.split_at(1);
        (format!("{sign}{int}"), frac.to_string(), exp)
    }
}

fn float_array_with(v: &[f64], sci_of: &dyn Fn(usize) -> String, exp_cutoff: f64) -> String {
    let (idx, summary) = shown(v.len());
    let finite: Vec<usize> = idx.iter().copied().filter(|&i| v[i].is_finite()).collect();
    let nonzero: Vec<f64> = finite
        .iter()
        .map(|&i| v[i].abs())
        .filter(|&a| a != 0.0)
        .collect();
    let exp_mode = if nonzero.is_empty() {
        false
    } else {
        let max = nonzero.iter().cloned().fold(f64::MIN, f64::max);
        let min = nonzero.iter().cloned().fold(f64::MAX, f64::min);
        max >= exp_cutoff || min < 1e-4 || max / min > 1e3
    };
    // First pass: decide paddings (numpy's `FloatingFormat.fillFormat`).
    let (mut pad_left, pad_right, precision, exp_size) = if finite.is_empty() {
        (0, 0, 0, 0)
    } else if exp_mode {
        let parts: Vec<(String, String, i32)> = finite
            .iter()
            .map(|&i| scientific(v[i], &sci_of(i)))
            .collect();
        let precision = parts.iter().map(|p| p.1.len()).max().unwrap_or(0);
        let pad_left = parts.iter().map(|p| p.0.len()).max().unwrap_or(0);
        let exp_size = parts
            .iter()
            .map(|p| format!("{:02}", p.2.unsigned_abs()).len())
            .max()
            .unwrap_or(2);
        (pad_left, exp_size + 2 + precision, precision, exp_size)
    } else {
        let parts: Vec<(String, String)> = finite
            .iter()
            .map(|&i| positional(v[i], &sci_of(i)))
            .collect();
        let pad_left = parts.iter().map(|p| p.0.len()).max().unwrap_or(0);
        let pad_right = parts.iter().map(|p| p.1.len()).max().unwrap_or(0);
        (pad_left, pad_right, 0, 0)
    };
    if finite.len() != idx.len() {
        let neginf = idx.iter().any(|&i| v[i] == f64::NEG_INFINITY);
        let offset = pad_right + 1;
        pad_left = pad_left
            .max(3usize.saturating_sub(offset))
            .max((3 + usize::from(neginf)).saturating_sub(offset));
    }
    let words: Vec<String> = idx
        .iter()
        .map(|&i| {
            let x = v[i];
            if !x.is_finite() {
                let w = pad_left + pad_right + 1;
                return format!("{:>w$}", py_repr_f64(x));
            }
            if exp_mode {
                let t = format!("{:.*e}", precision, x);
                let (mant, e) = t.split_once('e').unwrap_or((&t, "0"));
                let exp: i32 = e.parse().unwrap_or(0);
                let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
                let sign = if exp < 0 { '-' } else { '+' };
                format!(
                    "{int:>pad_left$}.{frac}e{sign}{:0exp_size$}",
                    exp.unsigned_abs()
                )
            } else {
                let (int, frac) = positional(x, &sci_of(i));
                format!("{int:>pad_left$}.{frac:<pad_right$}")
            }
        })
        .collect();
    layout(words, summary)
}

/// Join words with spaces inside brackets, wrapping at 75 columns with a
/// one-space hanging indent, inserting `...` in the middle of a summary.
fn layout(mut words: Vec<String>, summary: bool) -> String {
    if summary {
        words.insert(EDGE_ITEMS, "...".to_string());
    }
    let hanging = " ";
    let elem_width = LINE_WIDTH - 1;
    let mut s = String::new();
    let mut line = String::from(hanging);
    let n = words.len();
    for (k, word) in words.into_iter().enumerate() {
        if line.len() + word.len() > elem_width && line.len() > hanging.len() {
            s.push_str(line.trim_end());
            s.push('\n');
            line = String::from(hanging);
        }
        line.push_str(&word);
        if k + 1 < n {
            line.push(' ');
        }
    }
    s.push_str(&line);
    format!("[{}]", &s[hanging.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings are what caproto-put printed against softIoc and
    /// caproto's scalars_and_arrays example.
    #[test]
    fn matches_caproto_put_output() {
        assert_eq!(
            array_str(&Value::Double(vec![1.0, 2.5, 3.0])),
            "[1.  2.5 3. ]"
        );
        assert_eq!(
            array_str(&Value::Double(vec![1.0, 2.0, 3.0, 4.0])),
            "[1. 2. 3. 4.]"
        );
        assert_eq!(array_str(&Value::Double(vec![3.0])), "[3.]");
        assert_eq!(array_str(&Value::Double(vec![3.5])), "[3.5]");
        assert_eq!(
            array_str(&Value::Char(vec![104, 105, 32, 116, 104, 101, 114, 101, 0])),
            "[104 105  32 116 104 101 114 101   0]"
        );
        assert_eq!(
            array_str(&Value::Double(vec![1e-5, 1.0, std::f64::consts::PI, 7.0])),
            "[1.00000000e-05 1.00000000e+00 3.14159265e+00 7.00000000e+00]"
        );
        assert_eq!(
            array_str(&Value::String(vec!["a".into(), "b".into()])),
            "[b'a', b'b']"
        );
        assert_eq!(array_str(&Value::String(vec!["two".into()])), "[b'two']");
        assert_eq!(array_str(&Value::Long(vec![16])), "[16]");
        assert_eq!(
            element_str(&Value::Double(vec![3.0]), 0).as_deref(),
            Some("3.0")
        );
        assert_eq!(
            element_str(&Value::String(vec!["x y".into()]), 0).as_deref(),
            Some("b'x y'")
        );
    }

    #[test]
    fn numpy_layout_details() {
        assert_eq!(
            array_str(&Value::Double(vec![-1.5, 10.25])),
            "[-1.5  10.25]"
        );
        assert_eq!(
            array_str(&Value::Double(vec![1e-5, 1.0])),
            "[1.e-05 1.e+00]"
        );
        assert_eq!(array_str(&Value::Double(vec![1.0, f64::NAN])), "[ 1. nan]");
        assert_eq!(array_str(&Value::Float(vec![1.01])), "[1.01]");
        assert_eq!(array_str(&Value::Double(vec![])), "[]");
        assert_eq!(array_str(&Value::Double(vec![1.0 / 3.0])), "[0.33333333]");
        let long = array_str(&Value::Long((0..30).collect()));
        assert_eq!(
            long,
            "[ 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 22 23\n 24 25 26 27 28 29]"
        );
        assert_eq!(array_str(&Value::Long(vec![0; 2000])), "[0 0 0 ... 0 0 0]");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(
            array_str(&Value::Double(vec![1.0, f64::NEG_INFINITY])),
            "[  1. -inf]"
        );
        assert_eq!(array_str(&Value::Double(vec![f64::NAN])), "[nan]");
        assert_eq!(
            array_str(&Value::Double(vec![1e-5, f64::NAN])),
            "[1.e-05    nan]"
        );
        assert_eq!(array_str(&Value::Float(vec![2e6])), "[2.e+06]");
        assert_eq!(array_str(&Value::Float(vec![0.1])), "[0.1]");
        assert_eq!(
            array_str(&Value::Double(vec![1e8, 1.5])),
            "[1.0e+08 1.5e+00]"
        );
        assert_eq!(
            array_str(&Value::Double(vec![123456789.123])),
            "[1.23456789e+08]"
        );
        assert_eq!(
            array_str(&Value::Double(vec![-1e-7, 2.0, f64::INFINITY])),
            "[-1.e-07  2.e+00     inf]"
        );
    }
}
