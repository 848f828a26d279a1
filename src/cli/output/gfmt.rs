//! C's `%.{p}g` of a double, appended to a `String`, without the slow path
//! where it is not needed.
//!
//! The exact way (Rust's `{:.*e}`, i.e. the value rounded to `p` significant
//! digits) often falls back to bignum arithmetic and dominated the time of a
//! large waveform get. Most values do not need it: Rust's shortest round-trip
//! digits `D` (fast) already decide what `%.{p}g` prints in these cases,
//! where `x` is the double and `n` the number of digits of `D`:
//!
//! * `n >= p + 2`: `D` is the shortest decimal in `x`'s rounding interval, so
//!   no decimal with `p + 1` or fewer digits (in particular no rounding
//!   boundary of `p` digits) lies between `x` and `D`: `x` and `D` round alike,
//!   and `D` is not itself a boundary (it has more digits).
//! * `n <= p <= 15` and `x` normal: `|x - D|` is at most half an ULP, below
//!   `|x| * 2^-53`, which is less than half a unit in the `p`-th digit for
//!   `p <= 15`, so `x` rounds to `D` itself.
//! * `n == p + 1 <= 15`, `x` normal, last digit not 5: as above, only one
//!   `p + 1`-digit decimal fits in the rounding interval for `p <= 14`, so no
//!   boundary lies between `x` and `D` and `D` is not one.
//! * `n == p + 1`, last digit 5, and `D` exactly representable: then `x == D`
//!   is exactly halfway and C rounds it to even.
//!
//! Before all of these, the commonest values of a control system (integers,
//! `0.5`, `12.25`) skip even the shortest digits: if the double `x * 10^k`
//! is an integer `M < 10^p` for some `k <= 22` (`10^k` exact, `p <= 15`),
//! that one correctly rounded product puts `x` within `|x| * 2^-53` of
//! `M x 10^-k`, less than half a unit in the `p`-th digit, so `%.{p}g`
//! prints `M`'s digits ([`short_decimal`]).
//!
//! Everything else (subnormals with few digits, precisions above 15, halfway
//! digits that are not exact) takes the exact path. Either way only the
//! layout is left: `%e` or `%f` style by C's rule, trailing zeros removed.
//! The unit tests compare both paths with each other and with a table
//! produced by C's `printf` (through Python's `%` operator).

use std::fmt::Write as _;

/// Room for Rust's `{:e}` of any f64 (`-2.2250738585072014e-308` is 24 bytes).
const SHORT_CAP: usize = 32;

/// A small stack buffer that `write!` can fill.
struct StackText {
    buf: [u8; SHORT_CAP],
    len: usize,
}

impl StackText {
    fn new() -> StackText {
        StackText {
            buf: [0; SHORT_CAP],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > SHORT_CAP {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Decimal digits `d0 d1 d2 ...` meaning `d0.d1d2... x 10^exp`.
struct Digits<'a> {
    digits: &'a [u8],
    exp: i32,
}

/// Split Rust's `{:e}` / `{:.*e}` text of a finite, non-negative value:
/// hand each mantissa digit to `digit` and return the decimal exponent.
fn parse_sci(text: &[u8], mut digit: impl FnMut(u8)) -> i32 {
    let mut exp = 0i32;
    let mut exp_neg = false;
    let mut in_exp = false;
    for &b in text {
        match b {
            b'e' => in_exp = true,
            b'-' => exp_neg = true,
            b'0'..=b'9' if in_exp => exp = exp * 10 + i32::from(b - b'0'),
            b'0'..=b'9' => digit(b),
            _ => {}
        }
    }
    if exp_neg {
        -exp
    } else {
        exp
    }
}

/// Append ASCII digits.
fn push_ascii(out: &mut String, s: &[u8]) {
    out.push_str(std::str::from_utf8(s).unwrap_or_default());
}

/// Whether the decimal `m x 10^k` is exactly a double (then it *is* the
/// double whose shortest digits it is).
fn decimal_is_exact(m: u64, k: i32) -> bool {
    const LIMIT: u128 = 1 << 53;
    if m == 0 {
        return true;
    }
    if k >= 0 {
        if k > 22 {
            return false;
        }
        let v = u128::from(m) * 5u128.pow(k as u32);
        (v >> v.trailing_zeros()) < LIMIT
    } else {
        let j = k.unsigned_abs();
        if j > 27 {
            return false;
        }
        let p5 = 5u64.pow(j);
        if !m.is_multiple_of(p5) {
            return false;
        }
        let q = m / p5;
        u128::from(q >> q.trailing_zeros()) < LIMIT
    }
}

/// Round `digits` (at least `p + 1` of them) to `p` digits in place,
/// rounding half to even when `tie` and up otherwise on a 5; returns the
/// carry into a new leading digit (then `digits` is `1000...`).
fn round_digits(digits: &mut [u8], p: usize, tie: bool) -> bool {
    let next = digits[p];
    let up = match next {
        b'6'..=b'9' => true,
        b'5' => !tie || (digits[p - 1] - b'0') % 2 == 1,
        _ => false,
    };
    if !up {
        return false;
    }
    for d in digits[..p].iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return false;
        }
    }
    digits[0] = b'1';
    true
}

/// Append `%.{prec}g` of `x` (C semantics; precision 0 means 1).
pub fn write_g(out: &mut String, x: f64, prec: usize) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    let a = x.abs();
    if a.is_infinite() {
        out.push_str("inf");
        return;
    }
    if a == 0.0 {
        out.push('0');
        return;
    }
    let p = prec.max(1);
    let mut small = [0u8; 16];
    if let Some((n, exp)) = short_decimal(a, p, &mut small) {
        layout_g(
            out,
            Digits {
                digits: &small[..n],
                exp,
            },
            p,
        );
        return;
    }
    let mut short = StackText::new();
    // Cannot fail: the buffer holds any f64's `{:e}`.
    let _ = write!(short, "{a:e}");
    let mut buf = [0u8; SHORT_CAP];
    let mut n = 0;
    let mut exp = parse_sci(short.bytes(), |d| {
        buf[n] = d;
        n += 1;
    });
    if let Some(digits) = fast_digits(&mut buf[..n], &mut exp, p, a) {
        layout_g(out, Digits { digits, exp }, p);
        return;
    }
    write_g_exact(out, a, p);
}

/// `a` (finite, positive) as the digits of an integer `M < 10^p` and the
/// decimal exponent of its first digit, when `a * 10^k` is exactly `M` for
/// some `k` (see the module notes); `None` otherwise, or for `p > 15`.
fn short_decimal(a: f64, p: usize, digits: &mut [u8; 16]) -> Option<(usize, i32)> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if p > 15 {
        return None;
    }
    let limit = POW10[p];
    for (k, scale) in POW10.iter().enumerate() {
        let scaled = a * scale;
        if scaled >= limit {
            return None;
        }
        if scaled.fract() != 0.0 {
            continue;
        }
        // Below 10^15: exact in a u64, at most 15 digits.
        let mut m = scaled as u64;
        let mut n = 0;
        while m > 0 || n == 0 {
            digits[n] = b'0' + (m % 10) as u8;
            m /= 10;
            n += 1;
        }
        digits[..n].reverse();
        return Some((n, n as i32 - 1 - k as i32));
    }
    None
}

/// The `p` (or fewer) correctly rounded digits from the shortest digits, or
/// `None` when they do not decide them (see the module notes).
fn fast_digits<'a>(digits: &'a mut [u8], exp: &mut i32, p: usize, a: f64) -> Option<&'a [u8]> {
    let n = digits.len();
    let normal = a.is_normal();
    let tie = if n <= p {
        return (p <= 15 && normal).then_some(&digits[..]);
    } else if n >= p + 2 {
        false
    } else if digits[n - 1] != b'5' {
        if !(p <= 14 && normal) {
            return None;
        }
        false
    } else {
        let m = digits
            .iter()
            .fold(0u64, |m, &d| m * 10 + u64::from(d - b'0'));
        if !decimal_is_exact(m, *exp - (n as i32 - 1)) {
            return None;
        }
        true
    };
    if round_digits(digits, p, tie) {
        *exp += 1;
    }
    Some(&digits[..p])
}

/// The exact path: Rust's correctly rounded `{:.*e}` (ties to even, as C).
fn write_g_exact(out: &mut String, a: f64, p: usize) {
    let text = format!("{a:.*e}", p - 1);
    let mut digits = Vec::with_capacity(p);
    let exp = parse_sci(text.as_bytes(), |d| digits.push(d));
    layout_g(
        out,
        Digits {
            digits: &digits,
            exp,
        },
        p,
    );
}

/// Lay out digits rounded to `p` significant figures as C's `%g` does:
/// scientific when the exponent is below -4 or at least `p`, positional
/// otherwise; trailing zeros and a bare point dropped.
fn layout_g(out: &mut String, d: Digits<'_>, p: usize) {
    let mut digits = d.digits;
    while digits.len() > 1 && digits[digits.len() - 1] == b'0' {
        digits = &digits[..digits.len() - 1];
    }
    let exp = d.exp;
    if exp < -4 || exp >= p as i32 {
        push_ascii(out, &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            push_ascii(out, &digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        let _ = write!(out, "{e}");
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        push_ascii(out, digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            push_ascii(out, digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            push_ascii(out, &digits[..int_len]);
            out.push('.');
            push_ascii(out, &digits[int_len..]);
        }
    }
}

#[cfg(test)]
#[path = "gfmt_tests.rs"]
mod tests;
