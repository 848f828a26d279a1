//! Compact, caproto-like rendering of a [`Value`] for log lines:
//! `[1.5, 2.0]`, `['a', 'b']`, long arrays elided as `[0, 1, 2, ..., 97, 98, 99]`.

use std::fmt::{self, Display, Formatter, Write};

use super::Value;

/// Arrays longer than this are shown as their first and last few elements.
pub const DISPLAY_MAX_ELEMENTS: usize = 10;
/// Elements shown at each end of an elided array.
const DISPLAY_EDGE: usize = 3;

fn list<T>(
    f: &mut Formatter<'_>,
    items: &[T],
    item: impl Fn(&mut Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    f.write_char('[')?;
    let elide = items.len() > DISPLAY_MAX_ELEMENTS;
    for (i, x) in items.iter().enumerate() {
        if elide && i >= DISPLAY_EDGE && i < items.len() - DISPLAY_EDGE {
            if i == DISPLAY_EDGE {
                f.write_str(", ...")?;
            }
            continue;
        }
        if i > 0 {
            f.write_str(", ")?;
        }
        item(f, x)?;
    }
    f.write_char(']')
}

impl Display for Value {
    /// Elements in brackets, floats always with a decimal point or exponent,
    /// strings single-quoted with escapes; more than [`DISPLAY_MAX_ELEMENTS`]
    /// are elided in the middle.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(v) => list(f, v, |f, s| write!(f, "'{}'", s.escape_debug())),
            Value::Short(v) => list(f, v, |f, x| write!(f, "{x}")),
            Value::Float(v) => list(f, v, |f, x| write!(f, "{x:?}")),
            Value::Enum(v) => list(f, v, |f, x| write!(f, "{x}")),
            Value::Char(v) => list(f, v, |f, x| write!(f, "{x}")),
            Value::Long(v) => list(f, v, |f, x| write!(f, "{x}")),
            Value::Double(v) => list(f, v, |f, x| write!(f, "{x:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_arrays_in_full() {
        assert_eq!(Value::Double(vec![1.5, 2.0]).to_string(), "[1.5, 2.0]");
        assert_eq!(Value::Float(vec![0.1]).to_string(), "[0.1]");
        assert_eq!(Value::Long(vec![]).to_string(), "[]");
        assert_eq!(
            Value::String(vec!["a".into(), "it's".into()]).to_string(),
            "['a', 'it\\'s']"
        );
        assert_eq!(Value::Char(vec![104, 105]).to_string(), "[104, 105]");
    }

    #[test]
    fn long_arrays_elided() {
        let v = Value::Long((0..100).collect());
        assert_eq!(v.to_string(), "[0, 1, 2, ..., 97, 98, 99]");
        let ten = Value::Short((0..10).collect());
        assert_eq!(ten.to_string(), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
    }
}
