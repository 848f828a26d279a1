//! Python's standard format spec (`[[fill]align][sign][#][0][width][.precision][type]`):
//! parsing it, padding text to its width, and writing floats the way it says.

use crate::cli::output::numfmt::{write_e, write_f, write_g};

/// A parsed standard format spec: `[[fill]align][sign][#][0][width][.precision][type]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Spec {
    pub(super) fill: Option<char>,
    pub(super) align: Option<char>,
    pub(super) sign: Option<char>,
    pub(super) zero: bool,
    pub(super) width: usize,
    pub(super) precision: Option<usize>,
    pub(super) kind: Option<char>,
}

pub(super) fn parse_spec(spec: &str) -> Option<Spec> {
    let chars: Vec<char> = spec.chars().collect();
    let mut s = Spec::default();
    let mut i = 0;
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if chars.len() >= 2 && is_align(chars[1]) {
        s.fill = Some(chars[0]);
        s.align = Some(chars[1]);
        i = 2;
    } else if !chars.is_empty() && is_align(chars[0]) {
        s.align = Some(chars[0]);
        i = 1;
    }
    if i < chars.len() && matches!(chars[i], '+' | '-' | ' ') {
        s.sign = Some(chars[i]);
        i += 1;
    }
    if i < chars.len() && chars[i] == '0' {
        s.zero = true;
        i += 1;
    }
    let start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        s.width = chars[start..i].iter().collect::<String>().parse().ok()?;
    }
    if i < chars.len() && chars[i] == '.' {
        i += 1;
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        s.precision = Some(chars[start..i].iter().collect::<String>().parse().ok()?);
    }
    if i < chars.len() {
        s.kind = Some(chars[i]);
        i += 1;
    }
    (i == chars.len()).then_some(s)
}

/// Append `text` padded to the spec's width with its fill and alignment.
pub(super) fn pad_into(out: &mut String, text: &str, spec: &Spec, default_align: char) {
    let len = text.chars().count();
    if len >= spec.width {
        out.push_str(text);
        return;
    }
    let gap = spec.width - len;
    let zero_pad = spec.zero && spec.align.is_none();
    let fill = spec.fill.unwrap_or(if zero_pad { '0' } else { ' ' });
    let align = spec
        .align
        .unwrap_or(if zero_pad { '=' } else { default_align });
    let fills = |out: &mut String, n: usize| push_fill(out, fill, n);
    match align {
        '<' => {
            out.push_str(text);
            fills(out, gap);
        }
        '^' => {
            fills(out, gap / 2);
            out.push_str(text);
            fills(out, gap - gap / 2);
        }
        '=' => {
            let (sign, digits) = match text.chars().next() {
                Some('-' | '+' | ' ') => text.split_at(1),
                _ => ("", text),
            };
            out.push_str(sign);
            fills(out, gap);
            out.push_str(digits);
        }
        _ => {
            fills(out, gap);
            out.push_str(text);
        }
    }
}

/// Append `n` copies of `fill`: a space (the usual fill, as in caget's
/// name column) is copied from a run of spaces, not pushed char by char.
fn push_fill(out: &mut String, fill: char, n: usize) {
    const SPACES: &str = "                                                                ";
    if fill != ' ' {
        out.extend(std::iter::repeat_n(fill, n));
        return;
    }
    let mut left = n;
    while left > 0 {
        let k = left.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        left -= k;
    }
}

/// Put the sign in front of `body` (which holds the magnitude's text from `start`).
pub(super) fn insert_sign(out: &mut String, start: usize, negative: bool, sign: Option<char>) {
    match (negative, sign) {
        (true, _) => out.insert(start, '-'),
        (false, Some('+')) => out.insert(start, '+'),
        (false, Some(' ')) => out.insert(start, ' '),
        _ => {}
    }
}

pub(super) fn render_float(out: &mut String, x: f64, spec: &Spec) -> Option<()> {
    let negative = x.is_sign_negative() && !x.is_nan();
    let a = x.abs();
    let mut body = String::new();
    let prec = spec.precision.unwrap_or(6);
    match spec.kind {
        Some('e') => write_e(&mut body, a, prec),
        Some('E') => {
            write_e(&mut body, a, prec);
            body.make_ascii_uppercase();
        }
        Some('f') => write_f(&mut body, a, prec),
        Some('F') => {
            write_f(&mut body, a, prec);
            body.make_ascii_uppercase();
        }
        Some('g') => write_g(&mut body, a, prec),
        Some('G') => {
            write_g(&mut body, a, prec);
            body.make_ascii_uppercase();
        }
        Some('%') => {
            write_f(&mut body, a * 100.0, prec);
            body.push('%');
        }
        None => match spec.precision {
            Some(p) => write_g(&mut body, a, p),
            None => body.push_str(&crate::cli::output::numfmt::py_repr_f64(a)),
        },
        _ => return None,
    }
    insert_sign(&mut body, 0, negative, spec.sign);
    pad_into(out, &body, spec, '>');
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_of_any_length_and_character() {
        for n in [0, 1, 63, 64, 65, 200] {
            let mut out = String::from("x");
            push_fill(&mut out, ' ', n);
            assert_eq!(out, format!("x{}", " ".repeat(n)));
            let mut out = String::new();
            push_fill(&mut out, 'é', n);
            assert_eq!(out, "é".repeat(n));
        }
    }
}
