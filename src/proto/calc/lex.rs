//! The elements of the CALC grammar and how they are recognised.
//!
//! EPICS reads an expression element by element. Where an operand is
//! expected it looks in one table (literals, argument letters, constants,
//! prefix operators and functions, `(`); after an operand, in another
//! (binary operators, `)`, `,`, `?`, `:`, `:=`, `;`). Names are matched
//! case-insensitively as prefixes, the longest name first, with no word
//! boundary: `ABS` is the function, `AB` is `A` followed by an unknown `B`.
//! Spaces between elements are skipped.

use super::error::CalcErrorKind;

/// One-operand operations (prefix operators and one-argument functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unary {
    Neg,
    Not,
    BitNot,
    Abs,
    Acos,
    Asin,
    Atan,
    Ceil,
    Cos,
    Cosh,
    Exp,
    Floor,
    IsInf,
    Ln,
    Log10,
    Nint,
    Sin,
    Sinh,
    Sqrt,
    Tan,
    Tanh,
}

/// Two-operand operations, infix or written as a two-argument function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    And,
    Or,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    ShrLogical,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `ATAN2(a, b)`: EPICS evaluates it as C's `atan2(b, a)`.
    Atan2,
    /// `FMOD(a, b)`: C's `fmod(a, b)`.
    Fmod,
}

/// Functions taking any number (at least one) of arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Vararg {
    Max,
    Min,
    Finite,
    IsNan,
}

/// Values pushed without consuming anything.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Operand {
    /// Argument `A`..`L` (0..12).
    Arg(u8),
    /// The previous result (`VAL`).
    Val,
    /// A constant (`PI`, `D2R`, `R2D`).
    Const(f64),
    /// `RNDM`: a new pseudo-random number in [0, 1].
    Random,
}

/// Where an element sits when written where an operand is expected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum OperandElem {
    Operand(Operand),
    /// A decimal literal, `INF` or `NAN` starts here (strtod-style scan).
    Decimal,
    /// A `0x` hexadecimal literal starts here.
    Hex,
    Unary(Unary),
    /// A two-argument function written before its parenthesised arguments.
    Function2(Binary),
    Vararg(Vararg),
    OpenParen,
}

/// Where an element sits when written after an operand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum OperatorElem {
    Binary(Binary),
    CloseParen,
    Separator,
    CondIf,
    CondElse,
    Store,
    Terminator,
}

const PI: f64 = std::f64::consts::PI;

/// Operand-position names, longest first so prefixes resolve as EPICS's do.
const OPERANDS: &[(&str, OperandElem)] = {
    use OperandElem::*;
    &[
        ("FINITE", Vararg(self::Vararg::Finite)),
        ("ATAN2", Function2(Binary::Atan2)),
        ("FLOOR", Unary(self::Unary::Floor)),
        ("ISINF", Unary(self::Unary::IsInf)),
        ("ISNAN", Vararg(self::Vararg::IsNan)),
        ("ABS", Unary(self::Unary::Abs)),
        ("ACOS", Unary(self::Unary::Acos)),
        ("ASIN", Unary(self::Unary::Asin)),
        ("ATAN", Unary(self::Unary::Atan)),
        ("CEIL", Unary(self::Unary::Ceil)),
        ("COSH", Unary(self::Unary::Cosh)),
        ("FMOD", Function2(Binary::Fmod)),
        ("LOGE", Unary(self::Unary::Ln)),
        ("NINT", Unary(self::Unary::Nint)),
        ("RNDM", Operand(self::Operand::Random)),
        ("SINH", Unary(self::Unary::Sinh)),
        ("SQRT", Unary(self::Unary::Sqrt)),
        ("TANH", Unary(self::Unary::Tanh)),
        ("COS", Unary(self::Unary::Cos)),
        ("D2R", Operand(self::Operand::Const(PI / 180.0))),
        ("EXP", Unary(self::Unary::Exp)),
        ("INF", Decimal),
        ("LOG", Unary(self::Unary::Log10)),
        ("MAX", Vararg(self::Vararg::Max)),
        ("MIN", Vararg(self::Vararg::Min)),
        ("NAN", Decimal),
        ("NOT", Unary(self::Unary::BitNot)),
        ("R2D", Operand(self::Operand::Const(180.0 / PI))),
        ("SIN", Unary(self::Unary::Sin)),
        ("SQR", Unary(self::Unary::Sqrt)),
        ("TAN", Unary(self::Unary::Tan)),
        ("VAL", Operand(self::Operand::Val)),
        ("0X", Hex),
        ("LN", Unary(self::Unary::Ln)),
        ("PI", Operand(self::Operand::Const(PI))),
        ("!", Unary(self::Unary::Not)),
        ("(", OpenParen),
        ("-", Unary(self::Unary::Neg)),
        ("~", Unary(self::Unary::BitNot)),
    ]
};

/// Operator-position names, longest first.
const OPERATORS: &[(&str, OperatorElem)] = {
    use Binary::*;
    use OperatorElem::{Binary as B, CloseParen, CondElse, CondIf, Separator, Store, Terminator};
    &[
        (">>>", B(ShrLogical)),
        ("AND", B(BitAnd)),
        ("XOR", B(BitXor)),
        ("!=", B(Ne)),
        ("&&", B(And)),
        ("**", B(Pow)),
        (":=", Store),
        ("<<", B(Shl)),
        ("<=", B(Le)),
        ("==", B(Eq)),
        (">=", B(Ge)),
        (">>", B(Shr)),
        ("OR", B(BitOr)),
        ("||", B(Or)),
        ("#", B(Ne)),
        ("%", B(Mod)),
        ("&", B(BitAnd)),
        (")", CloseParen),
        ("*", B(Mul)),
        ("+", B(Add)),
        (",", Separator),
        ("-", B(Sub)),
        ("/", B(Div)),
        (":", CondElse),
        (";", Terminator),
        ("<", B(Lt)),
        ("=", B(Eq)),
        (">", B(Gt)),
        ("?", CondIf),
        ("^", B(Pow)),
        ("|", B(BitOr)),
    ]
};

/// Index of the first non-space byte at or after `at`.
pub(super) fn skip_space(text: &[u8], mut at: usize) -> usize {
    // C's isspace: also the vertical tab, which Rust's ASCII whitespace leaves out.
    while matches!(
        text.get(at),
        Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
    ) {
        at += 1;
    }
    at
}

fn starts_with_ci(text: &[u8], name: &str) -> bool {
    text.len() >= name.len() && text[..name.len()].eq_ignore_ascii_case(name.as_bytes())
}

/// The operand-position element at the start of `text` and its length.
pub(super) fn operand_at(text: &[u8]) -> Option<(OperandElem, usize)> {
    if let Some(&(name, elem)) = OPERANDS.iter().find(|(n, _)| starts_with_ci(text, n)) {
        return Some((elem, name.len()));
    }
    match text.first()? {
        b'0'..=b'9' | b'.' => Some((OperandElem::Decimal, 1)),
        c @ (b'A'..=b'L' | b'a'..=b'l') => Some((
            OperandElem::Operand(Operand::Arg(c.to_ascii_uppercase() - b'A')),
            1,
        )),
        _ => None,
    }
}

/// The operator-position element at the start of `text` and its length.
pub(super) fn operator_at(text: &[u8]) -> Option<(OperatorElem, usize)> {
    OPERATORS
        .iter()
        .find(|(n, _)| starts_with_ci(text, n))
        .map(|&(name, elem)| (elem, name.len()))
}

/// Scans a decimal literal (as C's `strtod` would: digits, a point, an
/// exponent; or `INF`, `INFINITY`, `NAN`) at the start of `text`.
/// Returns the value and the length taken.
pub(super) fn decimal_at(text: &[u8]) -> Result<(f64, usize), CalcErrorKind> {
    if starts_with_ci(text, "INFINITY") {
        return Ok((f64::INFINITY, 8));
    }
    if starts_with_ci(text, "INF") {
        return Ok((f64::INFINITY, 3));
    }
    if starts_with_ci(text, "NAN") {
        let mut len = 3;
        // C's "NAN(chars)" form.
        if text.get(3) == Some(&b'(') {
            let inner = text[4..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            if text.get(4 + inner) == Some(&b')') {
                len = 5 + inner;
            }
        }
        return Ok((f64::NAN, len));
    }
    let digits = |from: usize| {
        text[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let int = digits(0);
    let mut len = int;
    let mut frac = 0;
    if text.get(len) == Some(&b'.') {
        frac = digits(len + 1);
        len += 1 + frac;
    }
    if int + frac == 0 {
        return Err(CalcErrorKind::BadLiteral);
    }
    if matches!(text.get(len), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(text.get(len + 1), Some(b'+' | b'-')));
        let exp = digits(len + 1 + sign);
        if exp > 0 {
            len += 1 + sign + exp;
        }
    }
    // ASCII digits, '.', 'e' and a sign only: valid UTF-8 and Rust float syntax.
    let s = std::str::from_utf8(&text[..len]).map_err(|_| CalcErrorKind::BadLiteral)?;
    let value: f64 = s.parse().map_err(|_| CalcErrorKind::BadLiteral)?;
    let mantissa_zero = text[..int + usize::from(frac > 0) + frac]
        .iter()
        .all(|c| *c == b'0' || *c == b'.');
    // strtod reports out-of-range values (ERANGE); EPICS refuses them.
    if value.is_infinite() || (!mantissa_zero && (value == 0.0 || value.is_subnormal())) {
        return Err(CalcErrorKind::BadLiteral);
    }
    Ok((value, len))
}

/// Scans a `0x` literal at the start of `text` (as `strtoul` with base 0
/// would). Its 32 bits are read as a signed integer, as EPICS stores it.
pub(super) fn hex_at(text: &[u8]) -> Result<(f64, usize), CalcErrorKind> {
    let digits = text[2..]
        .iter()
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    if digits == 0 {
        // strtoul takes just the "0" and leaves the "x".
        return Ok((0.0, 1));
    }
    let mut value: u64 = 0;
    for &c in &text[2..2 + digits] {
        let d = (c as char).to_digit(16).unwrap_or(0);
        value = value * 16 + u64::from(d);
        if value > u64::from(u32::MAX) {
            return Err(CalcErrorKind::BadLiteral);
        }
    }
    Ok((f64::from(value as u32 as i32), 2 + digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_longest_first_case_insensitively() {
        assert_eq!(
            operand_at(b"abs(x)"),
            Some((OperandElem::Unary(Unary::Abs), 3))
        );
        assert_eq!(
            operand_at(b"AB"),
            Some((OperandElem::Operand(Operand::Arg(0)), 1))
        );
        assert_eq!(
            operand_at(b"LOGE(2)"),
            Some((OperandElem::Unary(Unary::Ln), 4))
        );
        assert_eq!(
            operator_at(b">>>2"),
            Some((OperatorElem::Binary(Binary::ShrLogical), 3))
        );
        assert_eq!(operator_at(b":=1"), Some((OperatorElem::Store, 2)));
        assert_eq!(operator_at(b"B"), None);
    }

    #[test]
    fn literals_scan_as_strtod_and_strtoul() {
        assert_eq!(decimal_at(b"1.5e3+1"), Ok((1500.0, 5)));
        assert_eq!(decimal_at(b".5"), Ok((0.5, 2)));
        assert_eq!(decimal_at(b"2e"), Ok((2.0, 1)));
        assert_eq!(decimal_at(b"7."), Ok((7.0, 2)));
        assert_eq!(decimal_at(b"."), Err(CalcErrorKind::BadLiteral));
        assert_eq!(decimal_at(b"1e999"), Err(CalcErrorKind::BadLiteral));
        assert_eq!(decimal_at(b"1e-999"), Err(CalcErrorKind::BadLiteral));
        assert_eq!(decimal_at(b"0e-999"), Ok((0.0, 6)));
        assert_eq!(decimal_at(b"infinity"), Ok((f64::INFINITY, 8)));
        assert_eq!(hex_at(b"0xff"), Ok((255.0, 4)));
        assert_eq!(hex_at(b"0xFFFFFFFF"), Ok((-1.0, 10)));
        assert_eq!(hex_at(b"0x100000000"), Err(CalcErrorKind::BadLiteral));
        assert_eq!(hex_at(b"0xg"), Ok((0.0, 1)));
    }
}
