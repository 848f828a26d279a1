//! The `CALC` conditions of one access security group, as EPICS's asLib
//! keeps them: the values of the group's inputs (`INPA`..`INPL`), which of
//! them are bad, and each rule's last result.
//!
//! A rule with a `CALC` applies only while none of the inputs its
//! expression reads is bad and its last result was 1 (between 0.99 and
//! 1.01). Results start false and are computed only when an input the
//! expression reads gets a value: a `CALC` that reads no input never
//! grants anything, and every input starts bad until its first value.
//! An input is bad while its PV is not connected or its severity is
//! INVALID. `VAL` in an expression is the rule's previous result.

use crate::proto::calc::{CalcExpr, CalcRandom, ARGS};

use super::parse::Asg;

/// CALC state of one group.
#[derive(Debug, Clone)]
pub(super) struct GroupCalc {
    /// Per rule: its compiled expression and the inputs it reads.
    rules: Vec<Option<(CalcExpr, u16)>>,
    /// Per rule: whether its last result was 1.
    results: Vec<bool>,
    values: [f64; ARGS],
    bad: u16,
    random: CalcRandom,
}

impl GroupCalc {
    pub(super) fn new(asg: &Asg) -> GroupCalc {
        let rules: Vec<_> = asg
            .rules
            .iter()
            .map(|r| {
                // The parser only keeps expressions that compile.
                let expr = CalcExpr::compile(r.calc.as_deref()?).ok()?;
                let used = expr.inputs_used();
                Some((expr, used))
            })
            .collect();
        let bad = asg
            .inputs
            .iter()
            .filter_map(|(letter, _)| input_bit(*letter))
            .fold(0, |m, b| m | b);
        GroupCalc {
            results: vec![false; rules.len()],
            rules,
            values: [0.0; ARGS],
            bad,
            random: CalcRandom::default(),
        }
    }

    /// Whether rule `i` passes its CALC condition (true without one).
    pub(super) fn applies(&self, i: usize) -> bool {
        match self.rules.get(i) {
            Some(Some((_, used))) => self.bad & used == 0 && self.results[i],
            _ => true,
        }
    }

    /// Input `letter` has `value` now, or is bad (`None`: disconnected,
    /// unreadable or INVALID). Returns whether any rule's standing changed.
    pub(super) fn set_input(&mut self, letter: char, value: Option<f64>) -> bool {
        let Some(bit) = input_bit(letter) else {
            return false;
        };
        let before: Vec<bool> = (0..self.rules.len()).map(|i| self.applies(i)).collect();
        match value {
            None => self.bad |= bit,
            Some(v) => {
                self.bad &= !bit;
                self.values[usize::from(letter as u8 - b'A')] = v;
                for (i, rule) in self.rules.iter().enumerate() {
                    let Some((expr, used)) = rule else { continue };
                    if used & bit == 0 {
                        continue;
                    }
                    let mut args = self.values;
                    let previous = if self.results[i] { 1.0 } else { 0.0 };
                    self.results[i] = expr
                        .evaluate(&mut args, previous, &mut self.random)
                        .is_ok_and(|r| r > 0.99 && r < 1.01);
                }
            }
        }
        (0..self.rules.len()).any(|i| self.applies(i) != before[i])
    }
}

/// Bit of input `letter` (`A`..`L`).
fn input_bit(letter: char) -> Option<u16> {
    match letter {
        'A'..='L' => Some(1 << (letter as u8 - b'A')),
        _ => None,
    }
}
