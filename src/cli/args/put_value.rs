//! caproto-put's DATA argument: read like a Python literal (`1`, `2.5`,
//! `0x10`, `'text'`, `[1, 2]`, `True`), falling back to the raw text; or, with
//! `-a`, space-separated elements; or, with `-S`, a string of characters. The
//! parsed data is then turned into a [`Value`] suited to the channel's native
//! type (the server converts numbers; strings go to enums by state name and to
//! CHAR arrays byte by byte).

use crate::proto::dbr::{NativeType, Value, MAX_STRING_SIZE};

/// One parsed element.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer (also `True`/`False` as 1/0).
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Str(String),
}

/// The parsed DATA: one element or several.
#[derive(Debug, Clone, PartialEq)]
pub enum PutData {
    /// A scalar (or a string for `-S`).
    Scalar(Literal),
    /// A list (`[1, 2]`, or `-a`).
    Array(Vec<Literal>),
}

/// How DATA is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseMode {
    /// `-a`: space-separated elements.
    pub array: bool,
    /// `-S`: the text as is.
    pub as_string: bool,
    /// `-s`: every element (or the scalar) as a string, never a number.
    pub force_string: bool,
    /// `--array-pad N`: pad with zeros to N elements.
    pub pad_to: Option<usize>,
}

/// Why DATA could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutDataError {
    /// More elements than `--array-pad` allows.
    PadTooSmall { elements: usize, pad: usize },
    /// `-a` with nothing to write.
    Empty,
}

impl std::fmt::Display for PutDataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutDataError::PadTooSmall { elements, pad } => write!(
                f,
                "--array-pad {pad} is smaller than the {elements} elements given"
            ),
            PutDataError::Empty => f.write_str("no elements to write"),
        }
    }
}

impl std::error::Error for PutDataError {}

/// Parse DATA according to `mode`.
pub fn parse_data(raw: &str, mode: ParseMode) -> Result<PutData, PutDataError> {
    if mode.as_string {
        return Ok(PutData::Scalar(Literal::Str(raw.to_string())));
    }
    let element = |tok: &str| match mode.force_string {
        true => Literal::Str(tok.to_string()),
        false => scalar_literal(tok).unwrap_or_else(|| Literal::Str(tok.to_string())),
    };
    if mode.array {
        let mut items: Vec<Literal> = raw.split_whitespace().map(element).collect();
        if let Some(pad) = mode.pad_to {
            if items.len() > pad {
                return Err(PutDataError::PadTooSmall {
                    elements: items.len(),
                    pad,
                });
            }
            items.resize(pad, Literal::Int(0));
        }
        if items.is_empty() {
            return Err(PutDataError::Empty);
        }
        return Ok(PutData::Array(items));
    }
    if mode.force_string {
        return Ok(PutData::Scalar(Literal::Str(raw.to_string())));
    }
    let text = raw.trim();
    if let Some(items) = list_literal(text) {
        return Ok(PutData::Array(items));
    }
    Ok(PutData::Scalar(
        scalar_literal(text).unwrap_or_else(|| Literal::Str(raw.to_string())),
    ))
}

/// `[a, b]` or `(a, b)` of scalar literals; `None` if it is not one.
fn list_literal(text: &str) -> Option<Vec<Literal>> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .or_else(|| text.strip_prefix('(').and_then(|t| t.strip_suffix(')')))?;
    let mut items = Vec::new();
    for part in split_top_level(inner) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        items.push(scalar_literal(part)?);
    }
    Some(items)
}

/// Split at commas that are not inside quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, ',') => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        escaped = false;
    }
    parts.push(&s[start..]);
    parts
}

/// A Python scalar literal: int (with 0x/0o/0b and `_`), float, quoted
/// string, True/False. `None` when the text is none of these.
pub fn scalar_literal(text: &str) -> Option<Literal> {
    let t = text.trim();
    match t {
        "True" => return Some(Literal::Int(1)),
        "False" => return Some(Literal::Int(0)),
        _ => {}
    }
    if let Some(s) = quoted(t) {
        return Some(Literal::Str(s));
    }
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body.is_empty() || body.starts_with(['-', '+', '_']) || body.ends_with('_') {
        return None;
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .iter()
        .find(|(p, _)| lower.starts_with(p));
    if let Some((prefix, radix)) = radix {
        let n = i64::from_str_radix(&lower[prefix.len()..], *radix).ok()?;
        return Some(Literal::Int(if negative { -n } else { n }));
    }
    if clean.chars().all(|c| c.is_ascii_digit()) {
        // Python refuses leading zeros in non-zero decimal ints ("007").
        if clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
            return None;
        }
        return match clean.parse::<i64>() {
            Ok(n) => Some(Literal::Int(if negative { -n } else { n })),
            Err(_) => clean
                .parse::<f64>()
                .ok()
                .map(|x| Literal::Float(if negative { -x } else { x })),
        };
    }
    // Floats: digits, one point, optional exponent; no inf/nan (not Python literals).
    let valid = clean
        .chars()
        .all(|c| c.is_ascii_digit() || "eE.+-".contains(c))
        && clean.chars().any(|c| c.is_ascii_digit())
        && !clean.starts_with(['e', 'E']);
    if valid {
        if let Ok(x) = clean.parse::<f64>() {
            return Some(Literal::Float(if negative { -x } else { x }));
        }
    }
    None
}

/// A single- or double-quoted string with Python's common escapes.
fn quoted(t: &str) -> Option<String> {
    let q = t.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = t.strip_prefix(q)?.strip_suffix(q)?;
    if t.len() < 2 {
        return None;
    }
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == q {
            return None; // an unescaped quote inside: not one literal
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            other => out.push(other),
        }
    }
    Some(out)
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Int(n) => n.to_string(),
        Literal::Float(x) => crate::cli::output::numfmt::py_repr_f64(*x),
        Literal::Str(s) => s.clone(),
    }
}

/// Turn parsed DATA into the value to send to a channel of `native` type.
/// Numbers go as LONG or DOUBLE and the server converts; text goes as STRING
/// (enums accept state names), except that CHAR channels get text byte by byte.
pub fn to_value(data: &PutData, native: NativeType) -> Result<Value, String> {
    let items: Vec<&Literal> = match data {
        PutData::Scalar(l) => vec![l],
        PutData::Array(v) => v.iter().collect(),
    };
    let any_text = items.iter().any(|l| matches!(l, Literal::Str(_)));
    if native == NativeType::Char {
        if let (true, [Literal::Str(s)]) = (any_text, items.as_slice()) {
            let mut bytes = s.as_bytes().to_vec();
            bytes.push(0);
            return Ok(Value::Char(bytes));
        }
    }
    if any_text || native == NativeType::String {
        if native != NativeType::String && native != NativeType::Enum {
            let bad: Vec<String> = items
                .iter()
                .filter_map(|l| match l {
                    Literal::Str(s) => Some(format!("{s:?}")),
                    _ => None,
                })
                .collect();
            return Err(format!(
                "{} is not a number (the channel's type is {})",
                bad.join(", "),
                native.epics_name()
            ));
        }
        let texts: Vec<String> = items.iter().map(|l| literal_text(l)).collect();
        if let Some(long) = texts.iter().find(|s| s.len() >= MAX_STRING_SIZE) {
            return Err(format!(
                "{long:?} is longer than the {} bytes a CA string can hold",
                MAX_STRING_SIZE - 1
            ));
        }
        return Ok(Value::String(texts));
    }
    let all_int = items.iter().all(|l| match l {
        Literal::Int(n) => i32::try_from(*n).is_ok(),
        _ => false,
    });
    if all_int {
        Ok(Value::Long(
            items
                .iter()
                .map(|l| match l {
                    Literal::Int(n) => *n as i32,
                    _ => 0,
                })
                .collect(),
        ))
    } else {
        Ok(Value::Double(
            items
                .iter()
                .map(|l| match l {
                    Literal::Int(n) => *n as f64,
                    Literal::Float(x) => *x,
                    Literal::Str(_) => f64::NAN,
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(s: &str) -> PutData {
        parse_data(s, ParseMode::default()).unwrap()
    }

    #[test]
    fn python_literals() {
        assert_eq!(scalar("2.5"), PutData::Scalar(Literal::Float(2.5)));
        assert_eq!(scalar("-3"), PutData::Scalar(Literal::Int(-3)));
        assert_eq!(scalar("1e3"), PutData::Scalar(Literal::Float(1000.0)));
        assert_eq!(scalar("0x10"), PutData::Scalar(Literal::Int(16)));
        assert_eq!(scalar("1_000"), PutData::Scalar(Literal::Int(1000)));
        assert_eq!(scalar("True"), PutData::Scalar(Literal::Int(1)));
        assert_eq!(scalar("'q'"), PutData::Scalar(Literal::Str("q".into())));
        assert_eq!(
            scalar("\"x y\""),
            PutData::Scalar(Literal::Str("x y".into()))
        );
        assert_eq!(
            scalar("[1,2.5, 'a']"),
            PutData::Array(vec![
                Literal::Int(1),
                Literal::Float(2.5),
                Literal::Str("a".into())
            ])
        );
        assert_eq!(
            scalar("(1, 'a,b')"),
            PutData::Array(vec![Literal::Int(1), Literal::Str("a,b".into())])
        );
        // Not literals: taken as text.
        for text in [
            "foo bar",
            "abc",
            "inf",
            "007",
            "1.2.3",
            "e5",
            "[1, x]",
            "'unterminated",
        ] {
            assert_eq!(
                scalar(text),
                PutData::Scalar(Literal::Str(text.into())),
                "{text}"
            );
        }
    }

    #[test]
    fn arrays_and_strings() {
        let arr = ParseMode {
            array: true,
            ..ParseMode::default()
        };
        assert_eq!(
            parse_data("1 2 3 4", arr).unwrap(),
            PutData::Array((1..=4).map(Literal::Int).collect())
        );
        let padded = ParseMode {
            pad_to: Some(4),
            ..arr
        };
        assert_eq!(
            parse_data("1 2", padded).unwrap(),
            PutData::Array(vec![
                Literal::Int(1),
                Literal::Int(2),
                Literal::Int(0),
                Literal::Int(0)
            ])
        );
        assert_eq!(
            parse_data("1 2 3 4 5", padded),
            Err(PutDataError::PadTooSmall {
                elements: 5,
                pad: 4
            })
        );
        assert_eq!(parse_data("  ", arr), Err(PutDataError::Empty));
        // caput -s: no number parsing, for scalars and elements alike.
        let forced = ParseMode {
            force_string: true,
            ..ParseMode::default()
        };
        assert_eq!(
            parse_data("1", forced).unwrap(),
            PutData::Scalar(Literal::Str("1".into()))
        );
        assert_eq!(
            parse_data(
                "1 two",
                ParseMode {
                    array: true,
                    ..forced
                }
            )
            .unwrap(),
            PutData::Array(vec![Literal::Str("1".into()), Literal::Str("two".into())])
        );
        let s = ParseMode {
            as_string: true,
            ..ParseMode::default()
        };
        assert_eq!(
            parse_data("12", s).unwrap(),
            PutData::Scalar(Literal::Str("12".into()))
        );
    }

    #[test]
    fn conversion_to_channel_values() {
        let v = |s: &str, n| to_value(&scalar(s), n);
        assert_eq!(v("2.5", NativeType::Double), Ok(Value::Double(vec![2.5])));
        assert_eq!(v("3", NativeType::Double), Ok(Value::Long(vec![3])));
        assert_eq!(
            v("one", NativeType::Enum),
            Ok(Value::String(vec!["one".into()]))
        );
        assert_eq!(v("2", NativeType::Enum), Ok(Value::Long(vec![2])));
        assert_eq!(
            v("12", NativeType::String),
            Ok(Value::String(vec!["12".into()]))
        );
        assert_eq!(
            v("2.50", NativeType::String),
            Ok(Value::String(vec!["2.5".into()]))
        );
        assert_eq!(
            v("abc", NativeType::Char),
            Ok(Value::Char(b"abc\0".to_vec()))
        );
        assert_eq!(v("1e10", NativeType::Long), Ok(Value::Double(vec![1e10])));
        let err = v("abc", NativeType::Double).unwrap_err();
        assert!(err.contains("\"abc\" is not a number"), "{err}");
        let long = "x".repeat(40);
        assert!(v(&long, NativeType::String)
            .unwrap_err()
            .contains("longer than the 39 bytes"));
    }
}
