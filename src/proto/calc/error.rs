//! Why an expression was refused: the byte offset where it went wrong and a
//! typed reason (the same reasons EPICS's `postfix()` distinguishes).

use std::fmt;

/// What was wrong with a CALC expression. Variants name the exact fault so
/// callers can `matches!` the reason instead of comparing strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CalcErrorKind {
    /// Empty text.
    Empty,
    /// A numeric literal that does not parse, or is out of range.
    BadLiteral,
    /// `:=` not preceded by a lone argument letter at the start of a statement.
    BadAssignment,
    /// A `,` outside the parentheses of a function call.
    BadSeparator,
    /// A `)` without its `(`.
    ParenNotOpen,
    /// A `(` still open at the end.
    ParenOpen,
    /// `?` and `:` do not pair up.
    Conditional,
    /// The expression ends where an operand is needed, or leaves more than one value.
    Incomplete,
    /// An operator or function is given fewer operands than it takes.
    Underflow,
    /// The expression needs more than [`super::MAX_STACK`] stack slots or nesting levels.
    Overflow,
    /// A statement before `;` leaves more than one value.
    TooMany,
    /// Text that is no operand or operator where one is expected.
    Syntax,
}

impl fmt::Display for CalcErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CalcErrorKind::Empty => "empty expression",
            CalcErrorKind::BadLiteral => "badly formed numeric literal",
            CalcErrorKind::BadAssignment => "bad assignment target",
            CalcErrorKind::BadSeparator => "comma without enclosing parentheses",
            CalcErrorKind::ParenNotOpen => "close parenthesis without an open one",
            CalcErrorKind::ParenOpen => "parenthesis still open at end of expression",
            CalcErrorKind::Conditional => "unbalanced conditional ?: operators",
            CalcErrorKind::Incomplete => "incomplete expression, operand missing",
            CalcErrorKind::Underflow => "not enough operands provided",
            CalcErrorKind::Overflow => "expression too deep (stack overflow)",
            CalcErrorKind::TooMany => "too many results returned",
            CalcErrorKind::Syntax => "syntax error, unknown operator or operand",
        })
    }
}

/// A refused expression: where (byte offset into the text) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CalcError {
    /// Byte offset of the element that could not be taken (the text's length
    /// when the expression ended too early).
    pub position: usize,
    /// The reason.
    pub kind: CalcErrorKind,
}

impl fmt::Display for CalcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind, self.position)
    }
}

impl std::error::Error for CalcError {}

/// Evaluation of a compiled expression failed. Only a conditional that
/// opens inside parentheses and closes outside them gets here (softIoc
/// accepts `NINT(A?B):C` too, and its branches may leave different numbers
/// of values); callers map it to "no result", as EPICS maps `calcPerform`
/// failures to a CALC alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CalcEvalError {
    /// The value stack did not end with exactly one value.
    Stack,
    /// A conditional had no matching branch.
    Conditional,
}

impl fmt::Display for CalcEvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CalcEvalError::Stack => "evaluation left an unbalanced stack",
            CalcEvalError::Conditional => "conditional without a matching branch",
        })
    }
}

impl std::error::Error for CalcEvalError {}
