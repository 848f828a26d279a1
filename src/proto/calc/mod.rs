//! The EPICS CALC expression language: compiled once, evaluated often.
//!
//! calc and calcout records compute their value with it, and access
//! security's `CALC` rule conditions use it too, so it lives in the sans-I/O
//! core. [`CalcExpr::compile`] turns infix text into a postfix program (or a
//! [`CalcError`] with the byte offset and a typed [`CalcErrorKind`]);
//! [`CalcExpr::evaluate`] runs it over the twelve arguments `A`..`L` and the
//! previous value `VAL`. Nothing here does I/O; `RNDM` draws from a
//! [`CalcRandom`] the caller owns.
//!
//! ```text
//! expr     := stmt (';' stmt)*          the value is the last statement's
//! stmt     := [arg ':='] cond           an assignment leaves no value
//! cond     := infix ['?' cond ':' cond]
//! infix    := operand (binop operand)*  by priority, see below
//! operand  := number | 0xHEX | INF | NAN | A..L | VAL | PI | D2R | R2D | RNDM
//!           | prefix operand | func '(' cond (',' cond)* ')' | '(' cond ')'
//! prefix   := '-' | '!' | '~' | NOT | ABS | SQRT | SQR | EXP | LN | LOGE | LOG
//!           | SIN | COS | TAN | ASIN | ACOS | ATAN | SINH | COSH | TANH
//!           | CEIL | FLOOR | NINT | ISINF
//! func     := MAX | MIN | FINITE | ISNAN (any arity) | ATAN2 | FMOD (two)
//! ```
//!
//! Names are case-insensitive. The operator priorities and the quirks that
//! follow from EPICS's algorithm (`-2**2` is 4, `2**3**2` is 64, `ATAN2(a, b)`
//! is C's `atan2(b, a)`, prefix functions bind to the next operand) are kept
//! on purpose, so an expression means here what it means in an IOC.
//!
//! | priority | operators                                     |
//! |----------|-----------------------------------------------|
//! | highest  | prefix `-` `!` `~` `NOT`, functions           |
//! | 6        | `**` `^` (left-associative)                   |
//! | 5        | `*` `/` `%`                                   |
//! | 4        | `+` `-`                                       |
//! | 3        | `<` `<=` `>` `>=` `=` `==` `!=` `#`           |
//! | 2        | `&&` `&` `AND` `<<` `>>` `>>>`                |
//! | 1        | `\|\|` `\|` `OR` `XOR`                          |
//! | lowest   | `?:`, then `:=`, then `;`                     |
//!
//! Numbers are doubles. Bit operators, shifts, `%` and `NINT` convert to
//! 32-bit integers the way EPICS's C code does on x86-64 (out-of-range values
//! do not saturate); any non-zero value, NaN too, is true; `MAX` and `MIN`
//! give NaN when any argument is NaN.

mod compile;
mod error;
mod eval;
mod lex;

use std::str::FromStr;

pub use error::{CalcError, CalcErrorKind, CalcEvalError};

/// Number of arguments (`A`..`L`).
pub const ARGS: usize = 12;

/// Deepest value stack and operator nesting an expression may need (EPICS's
/// `CALCPERFORM_STACK`).
pub const MAX_STACK: usize = 80;

/// A compiled CALC expression.
#[derive(Debug, Clone, PartialEq)]
pub struct CalcExpr {
    ops: Vec<compile::Op>,
    inputs: u16,
    stores: u16,
}

impl CalcExpr {
    /// Compiles infix `text`.
    pub fn compile(text: &str) -> Result<CalcExpr, CalcError> {
        let c = compile::compile(text)?;
        Ok(CalcExpr {
            ops: c.ops,
            inputs: c.inputs,
            stores: c.stores,
        })
    }

    /// Evaluates with arguments `args` (assignments `X := ...` write into
    /// them) and `val` as the value `VAL` reads (a record's previous value).
    pub fn evaluate(
        &self,
        args: &mut [f64; ARGS],
        val: f64,
        random: &mut CalcRandom,
    ) -> Result<f64, CalcEvalError> {
        eval::run(&self.ops, args, val, random)
    }

    /// The arguments the expression reads before writing them (bit 0: `A`).
    /// A record or an ACF rule only needs these inputs.
    pub fn inputs_used(&self) -> u16 {
        self.inputs
    }

    /// The arguments the expression assigns (bit 0: `A`).
    pub fn stores(&self) -> u16 {
        self.stores
    }
}

impl FromStr for CalcExpr {
    type Err = CalcError;
    fn from_str(s: &str) -> Result<CalcExpr, CalcError> {
        CalcExpr::compile(s)
    }
}

/// The pseudo-random source of `RNDM`: EPICS's 16-bit linear congruential
/// sequence (so a fresh source gives the numbers a fresh IOC gives), values
/// in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalcRandom(u16);

impl Default for CalcRandom {
    fn default() -> CalcRandom {
        CalcRandom(0xa3bf)
    }
}

impl CalcRandom {
    /// A source starting from `seed`.
    pub fn with_seed(seed: u16) -> CalcRandom {
        CalcRandom(seed)
    }

    /// The next value in [0, 1].
    pub fn next_value(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(1533).wrapping_add(0x3141);
        f64::from(self.0) / 65535.0
    }
}

#[cfg(test)]
mod tests;
