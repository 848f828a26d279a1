//! Infix text to postfix program, by operator precedence as EPICS's
//! `postfix()` does it (a shunting-yard with two priorities per operator:
//! one while it waits on the stack, one when it arrives).
//!
//! | priority | operators                                     |
//! |----------|-----------------------------------------------|
//! | 8 / 7    | prefix `-` `!` `~` `NOT`, functions, `(`      |
//! | 6        | `**` `^` (left-associative)                   |
//! | 5        | `*` `/` `%`                                   |
//! | 4        | `+` `-`                                       |
//! | 3        | `<` `<=` `>` `>=` `=` `==` `!=` `#`           |
//! | 2        | `&&` `&` `AND` `<<` `>>` `>>>`                |
//! | 1        | `\|\|` `\|` `OR` `XOR`                          |
//! | 0        | `?` `:` `:=` `;`                              |
//!
//! A prefix operator or function binds to the next operand only, so
//! `-2**2` is `(-2)**2` and `SIN A+1` is `SIN(A)+1`, as in EPICS.

use super::error::{CalcError, CalcErrorKind};
use super::lex::{self, Binary, Operand, OperandElem, OperatorElem, Unary, Vararg};
use super::MAX_STACK;

/// One instruction of a compiled expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
    Literal(f64),
    Push(Operand),
    Unary(Unary),
    Binary(Binary),
    /// The function and its argument count.
    Vararg(Vararg, u8),
    /// Pop into argument 0..12.
    Store(u8),
    /// Pop the condition; when false, continue at the index (after the matching `Else`).
    If(Option<usize>),
    /// End of the true branch: continue at the index (after the matching `End`).
    Else(Option<usize>),
    End,
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Paren,
    Unary(Unary),
    Binary(Binary),
    Vararg(Vararg),
    Store(u8),
    CondEnd,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    what: Pending,
    /// Priority while on the stack.
    priority: u8,
    /// Values the instruction adds to the runtime stack (negative: removes).
    effect: i32,
}

fn binary_priority(op: Binary) -> u8 {
    use Binary::*;
    match op {
        Or | BitOr | BitXor => 1,
        And | BitAnd | Shl | Shr | ShrLogical => 2,
        Eq | Ne | Lt | Le | Gt | Ge => 3,
        Add | Sub => 4,
        Mul | Div | Mod => 5,
        Pow => 6,
        // Written as functions: never compared as infix operators.
        Atan2 | Fmod => 7,
    }
}

/// What the compiler hands back: instructions, the deepest stack they need,
/// and which arguments they read and write.
pub(super) struct Compiled {
    pub ops: Vec<Op>,
    pub inputs: u16,
    pub stores: u16,
}

struct Compiler {
    out: Vec<Op>,
    stack: Vec<Waiting>,
    depth: i32,
    conditionals: i32,
    /// Set when an instruction was emitted with fewer values below it than it
    /// takes (`FMOD B-A`): the program would underflow when run.
    underflow: bool,
}

impl Compiler {
    fn emit(&mut self, w: Waiting) {
        let takes = match w.what {
            Pending::Unary(_) | Pending::Store(_) => 1,
            Pending::Binary(_) => 2,
            Pending::Vararg(_) => 1 - w.effect,
            Pending::CondEnd | Pending::Paren => 0,
        };
        if self.depth < takes {
            self.underflow = true;
        }
        let op = match w.what {
            Pending::Unary(u) => Op::Unary(u),
            Pending::Binary(b) => Op::Binary(b),
            // effect <= 0 and at least -(MAX_STACK) (depth is bounded): fits a u8.
            Pending::Vararg(v) => Op::Vararg(v, (1 - w.effect).clamp(1, 255) as u8),
            Pending::Store(i) => Op::Store(i),
            Pending::CondEnd => Op::End,
            Pending::Paren => return,
        };
        self.out.push(op);
        self.depth += w.effect;
    }

    /// Emits waiting operators while `pops` says so.
    fn unwind(&mut self, pops: impl Fn(&Waiting) -> bool) {
        while let Some(top) = self.stack.last().copied() {
            if !pops(&top) {
                break;
            }
            self.stack.pop();
            self.emit(top);
        }
    }

    /// Emits waiting operators down to the innermost `(`, which stays.
    fn unwind_to_paren(&mut self, err: CalcErrorKind) -> Result<(), CalcErrorKind> {
        loop {
            match self.stack.last().copied() {
                None => return Err(err),
                Some(Waiting {
                    what: Pending::Paren,
                    ..
                }) => return Ok(()),
                Some(_) if self.stack.len() == 1 => return Err(err),
                Some(top) => {
                    self.stack.pop();
                    self.emit(top);
                }
            }
        }
    }

    /// Emits everything at the end of a statement.
    fn finish_statement(&mut self) -> Result<(), CalcErrorKind> {
        while let Some(top) = self.stack.pop() {
            if matches!(top.what, Pending::Paren) {
                return Err(CalcErrorKind::ParenOpen);
            }
            self.emit(top);
        }
        if self.conditionals != 0 {
            return Err(CalcErrorKind::Conditional);
        }
        Ok(())
    }

    fn push(&mut self, w: Waiting) -> Result<(), CalcErrorKind> {
        if self.stack.len() >= MAX_STACK {
            return Err(CalcErrorKind::Overflow);
        }
        self.stack.push(w);
        Ok(())
    }

    fn operand(&mut self, elem: OperandElem, text: &[u8]) -> Result<(usize, bool), CalcErrorKind> {
        let prefix = |what| Waiting {
            what,
            priority: 7,
            effect: 0,
        };
        Ok(match elem {
            OperandElem::Operand(o) => {
                self.out.push(Op::Push(o));
                self.depth += 1;
                (0, false)
            }
            OperandElem::Decimal | OperandElem::Hex => {
                let (v, len) = if elem == OperandElem::Hex {
                    lex::hex_at(text)?
                } else {
                    lex::decimal_at(text)?
                };
                self.out.push(Op::Literal(v));
                self.depth += 1;
                (len, false)
            }
            OperandElem::Unary(u) => {
                self.push(prefix(Pending::Unary(u)))?;
                (0, true)
            }
            OperandElem::Function2(b) => {
                self.push(Waiting {
                    effect: -1,
                    ..prefix(Pending::Binary(b))
                })?;
                (0, true)
            }
            OperandElem::Vararg(v) => {
                self.push(prefix(Pending::Vararg(v)))?;
                (0, true)
            }
            OperandElem::OpenParen => {
                self.push(Waiting {
                    what: Pending::Paren,
                    priority: 0,
                    effect: 0,
                })?;
                (0, true)
            }
        })
    }

    fn operator(&mut self, elem: OperatorElem) -> Result<bool, CalcErrorKind> {
        match elem {
            OperatorElem::Binary(b) => {
                let priority = binary_priority(b);
                self.unwind(|w| w.priority >= priority);
                self.push(Waiting {
                    what: Pending::Binary(b),
                    priority,
                    effect: -1,
                })?;
                Ok(true)
            }
            OperatorElem::Separator => {
                self.unwind_to_paren(CalcErrorKind::BadSeparator)?;
                if let Some(paren) = self.stack.last_mut() {
                    paren.effect -= 1;
                }
                Ok(true)
            }
            OperatorElem::CloseParen => {
                self.unwind_to_paren(CalcErrorKind::ParenNotOpen)?;
                let paren = self.stack.pop().map_or(0, |p| p.effect);
                if let Some(top) = self.stack.last_mut() {
                    if matches!(top.what, Pending::Vararg(_)) {
                        // A function of any arity takes as many values as were written.
                        top.effect = paren;
                        if paren > 0 {
                            return Err(CalcErrorKind::Incomplete);
                        }
                    }
                }
                Ok(false)
            }
            OperatorElem::CondIf | OperatorElem::CondElse => {
                self.unwind(|w| w.priority > 0);
                self.depth -= 1;
                if elem == OperatorElem::CondElse {
                    self.out.push(Op::Else(None));
                    self.conditionals -= 1;
                    if self.conditionals < 0 {
                        return Err(CalcErrorKind::Conditional);
                    }
                    self.push(Waiting {
                        what: Pending::CondEnd,
                        priority: 0,
                        effect: 0,
                    })?;
                } else {
                    self.out.push(Op::If(None));
                    self.conditionals += 1;
                }
                Ok(true)
            }
            OperatorElem::Store => {
                let Some(Op::Push(Operand::Arg(i))) = self.out.last().copied() else {
                    return Err(CalcErrorKind::BadAssignment);
                };
                if !self.stack.is_empty() {
                    return Err(CalcErrorKind::BadAssignment);
                }
                self.out.pop();
                self.depth -= 1;
                self.push(Waiting {
                    what: Pending::Store(i),
                    priority: 0,
                    effect: -1,
                })?;
                Ok(true)
            }
            OperatorElem::Terminator => {
                self.finish_statement()?;
                if self.depth > 1 {
                    return Err(CalcErrorKind::TooMany);
                }
                Ok(true)
            }
        }
    }
}

/// Compiles `text`; see the module documentation for the grammar.
pub(super) fn compile(text: &str) -> Result<Compiled, CalcError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(CalcError {
            position: 0,
            kind: CalcErrorKind::Empty,
        });
    }
    let mut c = Compiler {
        out: Vec::new(),
        stack: Vec::new(),
        depth: 0,
        conditionals: 0,
        underflow: false,
    };
    let mut at = 0;
    let mut operand_needed = true;
    loop {
        at = lex::skip_space(bytes, at);
        if at == bytes.len() {
            break;
        }
        let start = at;
        let fail = move |kind| CalcError {
            position: start,
            kind,
        };
        let rest = &bytes[at..];
        if operand_needed {
            let Some((elem, len)) = lex::operand_at(rest) else {
                break;
            };
            let (literal_len, needed) = c.operand(elem, rest).map_err(fail)?;
            at += if literal_len > 0 { literal_len } else { len };
            operand_needed = needed;
        } else {
            let Some((elem, len)) = lex::operator_at(rest) else {
                break;
            };
            operand_needed = c.operator(elem).map_err(fail)?;
            at += len;
        }
        if c.depth < 0 {
            return Err(fail(CalcErrorKind::Underflow));
        }
        if c.depth >= MAX_STACK as i32 {
            return Err(fail(CalcErrorKind::Overflow));
        }
    }
    if at != bytes.len() {
        return Err(CalcError {
            position: at,
            kind: CalcErrorKind::Syntax,
        });
    }
    let end = |kind| CalcError {
        position: bytes.len(),
        kind,
    };
    c.finish_statement().map_err(end)?;
    // softIoc reports a function short of operands (`ATAN2(1)`, `FMOD B-A`)
    // as incomplete when the count comes out short at the end.
    if operand_needed || c.depth != 1 {
        return Err(end(CalcErrorKind::Incomplete));
    }
    // The count came out right, but only because a value was borrowed from
    // below: softIoc accepts `FMOD B-A*(7,3)` and its program reads an unused
    // stack slot when run. We refuse it.
    if c.underflow {
        return Err(end(CalcErrorKind::Underflow));
    }
    let mut ops = c.out;
    link_conditionals(&mut ops);
    let (inputs, stores) = arg_usage(&ops);
    Ok(Compiled {
        ops,
        inputs,
        stores,
    })
}

/// Points each `If` past its `Else` and each `Else` past its `End`, matching
/// nested conditionals the way EPICS's evaluator searches for them.
fn link_conditionals(ops: &mut [Op]) {
    for i in 0..ops.len() {
        let wanted = match ops[i] {
            Op::If(_) => |op: &Op| matches!(op, Op::Else(_)),
            Op::Else(_) => |op: &Op| matches!(op, Op::End),
            _ => continue,
        };
        let mut count = 1;
        let mut target = None;
        for (j, op) in ops.iter().enumerate().skip(i + 1) {
            if wanted(op) {
                count -= 1;
                if count == 0 {
                    target = Some(j + 1);
                    break;
                }
            }
            if matches!(op, Op::If(_)) {
                count += 1;
            }
        }
        match &mut ops[i] {
            Op::If(t) | Op::Else(t) => *t = target,
            _ => {}
        }
    }
}

/// Arguments read before being written, and arguments written (bit n: argument n).
fn arg_usage(ops: &[Op]) -> (u16, u16) {
    let (mut inputs, mut stores) = (0u16, 0u16);
    for op in ops {
        match op {
            Op::Push(Operand::Arg(i)) => inputs |= (1 << i) & !stores,
            Op::Store(i) => stores |= 1 << i,
            _ => {}
        }
    }
    (inputs, stores)
}
