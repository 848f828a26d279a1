//! Running a compiled expression over its arguments, with EPICS's numeric
//! conventions: doubles throughout; bit operators, shifts, `%` and `NINT`
//! convert to 32-bit integers the way EPICS's C code does on x86-64
//! (out-of-range values do not saturate); any non-zero value (NaN too) is
//! true; `MAX`/`MIN` give NaN when any argument is NaN.

use super::compile::Op;
use super::error::CalcEvalError;
use super::lex::{Binary, Operand, Unary, Vararg};
use super::{CalcRandom, ARGS};

/// C's `(int32_t)x` as x86-64 computes it: truncation, and `INT32_MIN` for
/// NaN and values out of range.
fn c_i32(x: f64) -> i32 {
    if x.is_nan() || x >= 2_147_483_648.0 || x <= -2_147_483_649.0 {
        i32::MIN
    } else {
        x as i32
    }
}

/// C's `(uint32_t)x` for `x >= 0` as x86-64 computes it (through a 64-bit
/// conversion, keeping the low 32 bits; NaN and values from 2^63 up give 0;
/// `i64::MAX as f64` is exactly 2^63).
fn c_u32(x: f64) -> u32 {
    if x.is_nan() || x >= i64::MAX as f64 {
        0
    } else {
        x as i64 as u32
    }
}

/// EPICS's double-to-int conversion for bit operations: negative values
/// through a signed conversion, others through an unsigned one.
fn to_bits(x: f64) -> i32 {
    if x < 0.0 {
        c_i32(x)
    } else {
        c_u32(x) as i32
    }
}

fn truth(x: f64) -> bool {
    x != 0.0
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn unary(op: Unary, x: f64) -> f64 {
    use Unary::*;
    match op {
        Neg => -x,
        Not => flag(!truth(x)),
        BitNot => f64::from(!to_bits(x)),
        Abs => x.abs(),
        Acos => x.acos(),
        Asin => x.asin(),
        Atan => x.atan(),
        Ceil => x.ceil(),
        Cos => x.cos(),
        Cosh => x.cosh(),
        Exp => x.exp(),
        Floor => x.floor(),
        // glibc's isinf gives the sign: ISINF(-INF) is -1 in an IOC.
        IsInf if x.is_infinite() => x.signum(),
        IsInf => 0.0,
        Ln => x.ln(),
        Log10 => x.log10(),
        Nint => f64::from(c_i32(if x >= 0.0 { x + 0.5 } else { x - 0.5 })),
        Sin => x.sin(),
        Sinh => x.sinh(),
        Sqrt => x.sqrt(),
        Tan => x.tan(),
        Tanh => x.tanh(),
    }
}

fn binary(op: Binary, a: f64, b: f64) -> f64 {
    use Binary::*;
    match op {
        Add => a + b,
        Sub => a - b,
        Mul => a * b,
        Div => a / b,
        Mod => match c_i32(b) {
            0 => f64::NAN,
            d => f64::from(c_i32(a).wrapping_rem(d)),
        },
        Pow => a.powf(b),
        And => flag(truth(a) && truth(b)),
        Or => flag(truth(a) || truth(b)),
        BitAnd => f64::from(to_bits(a) & to_bits(b)),
        BitOr => f64::from(to_bits(a) | to_bits(b)),
        BitXor => f64::from(to_bits(a) ^ to_bits(b)),
        Shl => f64::from(to_bits(a).wrapping_shl((to_bits(b) & 31) as u32)),
        Shr => f64::from(to_bits(a) >> (to_bits(b) & 31)),
        ShrLogical => f64::from((to_bits(a) as u32) >> ((to_bits(b) as u32) & 31)),
        Eq => flag(a == b),
        Ne => flag(a != b),
        Lt => flag(a < b),
        Le => flag(a <= b),
        Gt => flag(a > b),
        Ge => flag(a >= b),
        Atan2 => b.atan2(a),
        Fmod => a % b,
    }
}

/// Runs `ops`; `args` are A..L (stores write them), `val` is what `VAL` reads.
pub(super) fn run(
    ops: &[Op],
    args: &mut [f64; ARGS],
    val: f64,
    random: &mut CalcRandom,
) -> Result<f64, CalcEvalError> {
    let mut stack: Vec<f64> = Vec::with_capacity(16);
    let pop = |stack: &mut Vec<f64>| stack.pop().ok_or(CalcEvalError::Stack);
    let mut pc = 0;
    while let Some(&op) = ops.get(pc) {
        pc += 1;
        match op {
            Op::Literal(v) => stack.push(v),
            Op::Push(Operand::Arg(i)) => stack.push(args[usize::from(i) % ARGS]),
            Op::Push(Operand::Val) => stack.push(val),
            Op::Push(Operand::Const(c)) => stack.push(c),
            Op::Push(Operand::Random) => stack.push(random.next_value()),
            Op::Unary(u) => {
                let x = pop(&mut stack)?;
                stack.push(unary(u, x));
            }
            Op::Binary(b) => {
                let y = pop(&mut stack)?;
                let x = pop(&mut stack)?;
                stack.push(binary(b, x, y));
            }
            Op::Vararg(f, n) => {
                let n = usize::from(n);
                if n == 0 || n > stack.len() {
                    return Err(CalcEvalError::Stack);
                }
                let values = stack.split_off(stack.len() - n);
                let result = match f {
                    Vararg::Max => values.iter().copied().reduce(|m, x| {
                        if m.is_nan() || x.is_nan() {
                            f64::NAN
                        } else {
                            m.max(x)
                        }
                    }),
                    Vararg::Min => values.iter().copied().reduce(|m, x| {
                        if m.is_nan() || x.is_nan() {
                            f64::NAN
                        } else {
                            m.min(x)
                        }
                    }),
                    Vararg::Finite => Some(flag(values.iter().all(|x| x.is_finite()))),
                    Vararg::IsNan => Some(flag(values.iter().any(|x| x.is_nan()))),
                };
                stack.push(result.ok_or(CalcEvalError::Stack)?);
            }
            Op::Store(i) => args[usize::from(i) % ARGS] = pop(&mut stack)?,
            Op::If(target) => {
                if !truth(pop(&mut stack)?) {
                    pc = target.ok_or(CalcEvalError::Conditional)?;
                }
            }
            Op::Else(target) => pc = target.ok_or(CalcEvalError::Conditional)?,
            Op::End => {}
        }
    }
    match stack.as_slice() {
        [result] => Ok(*result),
        _ => Err(CalcEvalError::Stack),
    }
}
