//! The ACF grammar of EPICS base (`asLib.y`), read by recursive descent:
//! text in, typed [`Acf`] out, no I/O.
//!
//! ```text
//! file   := item+
//! item   := UAG '(' name ')' [ '{' name (',' name)* '}' ]
//!         | HAG '(' name ')' [ '{' host (',' host)* '}' ]
//!         | ASG '(' name ')' [ '{' (INP<A-L> '(' pv ')' | rule)+ '}' ]
//! rule   := RULE '(' level ',' (NONE|READ|WRITE) [',' (TRAPWRITE|NOTRAPWRITE)] ')'
//!           [ '{' (UAG '(' names ')' | HAG '(' names ')' | CALC '(' expr ')')+ '}' ]
//! ```
//!
//! Checks made while reading, as EPICS makes them: a UAG, HAG or ASG name is
//! defined once (an empty `ASG(DEFAULT)` may be repeated), and a rule may only
//! name UAGs and HAGs defined above it. A `CALC` expression must compile
//! ([`AcfErrorKind::BadCalc`]) and may not assign to an input
//! ([`AcfErrorKind::CalcAssignment`]); when a rule has several, the last
//! one counts, as in EPICS. `INP` links name the PVs whose values feed the
//! expressions' `A`..`L`.

use super::error::{AcfError, AcfErrorKind};
use super::lex::{Lexer, Tok};
use crate::proto::calc::CalcExpr;

/// The group a PV belongs to unless it names another, and the group used for
/// PVs that name a group the file does not define.
pub const DEFAULT_GROUP: &str = "DEFAULT";

/// A parsed access security configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acf {
    /// User access groups, in file order.
    pub uags: Vec<Uag>,
    /// Host access groups, in file order.
    pub hags: Vec<Hag>,
    /// Access security groups, in file order.
    pub asgs: Vec<Asg>,
}

/// `UAG(name) {user, ...}`: a named list of user names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uag {
    /// Group name.
    pub name: String,
    /// Members, compared exactly (case-sensitive) with the client's CLIENT_NAME.
    pub users: Vec<String>,
    /// Line of the `UAG` keyword.
    pub line: u32,
}

/// `HAG(name) {host, ...}`: a named list of host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hag {
    /// Group name.
    pub name: String,
    /// Members as written (matching lower-cases them, as EPICS does).
    pub hosts: Vec<String>,
    /// Line of the `HAG` keyword.
    pub line: u32,
}

/// `ASG(name) {...}`: the rules for the PVs of one access security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asg {
    /// Group name (PVs name it).
    pub name: String,
    /// `INPA`..`INPL` links (letter, PV name): the values of `A`..`L` in this group's CALCs.
    pub inputs: Vec<(char, String)>,
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// Line of the `ASG` keyword.
    pub line: u32,
}

/// Access a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Nothing.
    None,
    /// Read (get and monitor).
    Read,
    /// Read and write.
    Write,
}

/// `RULE(level, access[, TRAPWRITE]) {UAG(...) HAG(...)}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Applies to PVs whose access security level is at most this (0 or 1 in practice).
    pub level: u32,
    /// What the rule grants when it applies.
    pub access: Access,
    /// Writes granted by this rule are put-logged.
    pub trapwrite: bool,
    /// The client's user must be in one of these UAGs (empty: any user).
    pub uags: Vec<String>,
    /// The client's host must be in one of these HAGs (empty: any host).
    pub hags: Vec<String>,
    /// `CALC` condition: the rule applies only while this expression of the
    /// group's inputs is 1 (see [`super::AccessRules`]).
    pub calc: Option<String>,
    /// Line of the `RULE` keyword.
    pub line: u32,
}

/// Parse ACF text. Errors carry the line and the reason.
pub fn parse(text: &str) -> Result<Acf, AcfError> {
    let mut p = Parser {
        lx: Lexer::new(text),
        peeked: None,
        acf: Acf::default(),
    };
    p.file()?;
    Ok(p.acf)
}

struct Parser<'a> {
    lx: Lexer<'a>,
    peeked: Option<Option<(Tok, u32)>>,
    acf: Acf,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<Option<&(Tok, u32)>, AcfError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lx.next_token()?);
        }
        Ok(self.peeked.as_ref().and_then(|p| p.as_ref()))
    }

    fn next(&mut self) -> Result<Option<(Tok, u32)>, AcfError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lx.next_token(),
        }
    }

    fn unexpected(&self, expected: &'static str, got: Option<(Tok, u32)>) -> AcfError {
        match got {
            Some((tok, line)) => AcfError {
                line,
                kind: AcfErrorKind::Unexpected {
                    expected,
                    found: tok.describe(),
                },
            },
            None => AcfError {
                line: self.lx.line(),
                kind: AcfErrorKind::Unexpected {
                    expected,
                    found: "end of file".into(),
                },
            },
        }
    }

    fn expect(&mut self, want: Tok, expected: &'static str) -> Result<u32, AcfError> {
        match self.next()? {
            Some((tok, line)) if tok == want => Ok(line),
            other => Err(self.unexpected(expected, other)),
        }
    }

    fn string(&mut self, expected: &'static str) -> Result<(String, u32), AcfError> {
        match self.next()? {
            Some((Tok::Str(s), line)) => Ok((s, line)),
            other => Err(self.unexpected(expected, other)),
        }
    }

    /// `'(' name ')'`
    fn head(&mut self, what: &'static str) -> Result<String, AcfError> {
        self.expect(Tok::LParen, "'('")?;
        let (name, _) = self.string(what)?;
        self.expect(Tok::RParen, "')'")?;
        Ok(name)
    }

    fn at(&mut self, tok: &Tok) -> Result<bool, AcfError> {
        Ok(self.peek()?.is_some_and(|(t, _)| t == tok))
    }

    /// `name (',' name)*` up to (not including) the closing token.
    fn names(&mut self, what: &'static str) -> Result<Vec<(String, u32)>, AcfError> {
        let mut out = vec![self.string(what)?];
        while self.at(&Tok::Comma)? {
            self.next()?;
            out.push(self.string(what)?);
        }
        Ok(out)
    }

    fn file(&mut self) -> Result<(), AcfError> {
        if self.peek()?.is_none() {
            return Err(AcfError {
                line: self.lx.line(),
                kind: AcfErrorKind::Empty,
            });
        }
        while let Some(tok) = self.next()? {
            match tok {
                (Tok::Uag, line) => self.uag(line)?,
                (Tok::Hag, line) => self.hag(line)?,
                (Tok::Asg, line) => self.asg(line)?,
                other => return Err(self.unexpected("UAG, HAG or ASG", Some(other))),
            }
        }
        Ok(())
    }

    fn uag(&mut self, line: u32) -> Result<(), AcfError> {
        let name = self.head("a user access group name")?;
        if self.acf.uags.iter().any(|u| u.name == name) {
            return Err(AcfError {
                line,
                kind: AcfErrorKind::DuplicateUag(name),
            });
        }
        let mut users = Vec::new();
        if self.at(&Tok::LBrace)? {
            self.next()?;
            users = self
                .names("a user name")?
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            self.expect(Tok::RBrace, "',' or '}'")?;
        }
        self.acf.uags.push(Uag { name, users, line });
        Ok(())
    }

    fn hag(&mut self, line: u32) -> Result<(), AcfError> {
        let name = self.head("a host access group name")?;
        if self.acf.hags.iter().any(|h| h.name == name) {
            return Err(AcfError {
                line,
                kind: AcfErrorKind::DuplicateHag(name),
            });
        }
        let mut hosts = Vec::new();
        if self.at(&Tok::LBrace)? {
            self.next()?;
            hosts = self
                .names("a host name")?
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            self.expect(Tok::RBrace, "',' or '}'")?;
        }
        self.acf.hags.push(Hag { name, hosts, line });
        Ok(())
    }

    fn asg(&mut self, line: u32) -> Result<(), AcfError> {
        let name = self.head("an access security group name")?;
        if let Some(i) = self.acf.asgs.iter().position(|a| a.name == name) {
            let old = &self.acf.asgs[i];
            // EPICS lets an empty DEFAULT be defined again (it pre-creates one).
            if name == DEFAULT_GROUP && old.rules.is_empty() && old.inputs.is_empty() {
                self.acf.asgs.remove(i);
            } else {
                return Err(AcfError {
                    line,
                    kind: AcfErrorKind::DuplicateAsg(name),
                });
            }
        }
        let mut asg = Asg {
            name,
            inputs: Vec::new(),
            rules: Vec::new(),
            line,
        };
        if self.at(&Tok::LBrace)? {
            self.next()?;
            loop {
                match self.next()? {
                    Some((Tok::Inp(letter), _)) => {
                        let pv = self.head("a PV name")?;
                        asg.inputs.push((letter, pv));
                    }
                    Some((Tok::Rule, line)) => asg.rules.push(self.rule(line)?),
                    Some((Tok::RBrace, _)) if !asg.rules.is_empty() || !asg.inputs.is_empty() => {
                        break
                    }
                    other => {
                        let expected = if asg.rules.is_empty() && asg.inputs.is_empty() {
                            "RULE or INP<A-L>"
                        } else {
                            "RULE, INP<A-L> or '}'"
                        };
                        return Err(self.unexpected(expected, other));
                    }
                }
            }
        }
        self.acf.asgs.push(asg);
        Ok(())
    }

    fn rule(&mut self, line: u32) -> Result<Rule, AcfError> {
        self.expect(Tok::LParen, "'('")?;
        let level = match self.next()? {
            Some((Tok::Int(n), _)) => n,
            Some((Tok::Str(s), l)) => {
                return Err(AcfError {
                    line: l,
                    kind: AcfErrorKind::BadLevel(s),
                })
            }
            other => return Err(self.unexpected("a rule level (integer)", other)),
        };
        self.expect(Tok::Comma, "','")?;
        let (word, wline) = self.string("NONE, READ or WRITE")?;
        let access = match word.as_str() {
            "NONE" => Access::None,
            "READ" => Access::Read,
            "WRITE" => Access::Write,
            _ => {
                return Err(AcfError {
                    line: wline,
                    kind: AcfErrorKind::BadAccess(word),
                })
            }
        };
        let mut trapwrite = false;
        if self.at(&Tok::Comma)? {
            self.next()?;
            let (opt, oline) = self.string("TRAPWRITE or NOTRAPWRITE")?;
            match opt.as_str() {
                "TRAPWRITE" => trapwrite = true,
                "NOTRAPWRITE" => {}
                _ => {
                    return Err(AcfError {
                        line: oline,
                        kind: AcfErrorKind::BadOption(opt),
                    })
                }
            }
        }
        self.expect(Tok::RParen, "')'")?;
        let mut rule = Rule {
            level,
            access,
            trapwrite,
            uags: Vec::new(),
            hags: Vec::new(),
            calc: None,
            line,
        };
        if !self.at(&Tok::LBrace)? {
            return Ok(rule);
        }
        self.next()?;
        let mut items = 0;
        loop {
            match self.next()? {
                Some((Tok::Uag, _)) => {
                    self.expect(Tok::LParen, "'('")?;
                    for (name, l) in self.names("a user access group name")? {
                        if !self.acf.uags.iter().any(|u| u.name == name) {
                            return Err(AcfError {
                                line: l,
                                kind: AcfErrorKind::UndefinedUag(name),
                            });
                        }
                        rule.uags.push(name);
                    }
                    self.expect(Tok::RParen, "',' or ')'")?;
                }
                Some((Tok::Hag, _)) => {
                    self.expect(Tok::LParen, "'('")?;
                    for (name, l) in self.names("a host access group name")? {
                        if !self.acf.hags.iter().any(|h| h.name == name) {
                            return Err(AcfError {
                                line: l,
                                kind: AcfErrorKind::UndefinedHag(name),
                            });
                        }
                        rule.hags.push(name);
                    }
                    self.expect(Tok::RParen, "',' or ')'")?;
                }
                Some((Tok::Calc, l)) => {
                    let expr = self.head("a CALC expression")?;
                    let fail = |kind| AcfError { line: l, kind };
                    match CalcExpr::compile(&expr) {
                        Err(e) => return Err(fail(AcfErrorKind::BadCalc { expr, error: e })),
                        // EPICS refuses assignments in ACF expressions.
                        Ok(c) if c.stores() != 0 => {
                            return Err(fail(AcfErrorKind::CalcAssignment(expr)))
                        }
                        Ok(_) => rule.calc = Some(expr),
                    }
                }
                Some((Tok::RBrace, _)) if items > 0 => break,
                other => {
                    let expected = if items == 0 {
                        "UAG, HAG or CALC"
                    } else {
                        "UAG, HAG, CALC or '}'"
                    };
                    return Err(self.unexpected(expected, other));
                }
            }
            items += 1;
        }
        Ok(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::calc::CalcErrorKind;

    const SAMPLE: &str = r#"
# operators may write from the control room
UAG(ops) {alice, bob}
UAG(nobody)
HAG(ctrl) {CtrlRoom1, "console.example.org"}
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE, TRAPWRITE) {
        UAG(ops)
        HAG(ctrl)
    }
}
ASG(RO) {
    INPA("some:pv")
    RULE(0, READ, NOTRAPWRITE)
}
ASG(EMPTY)
"#;

    #[test]
    fn parses_groups_rules_and_options() {
        let acf = parse(SAMPLE).unwrap();
        assert_eq!(acf.uags.len(), 2);
        assert_eq!(acf.uags[0].users, vec!["alice", "bob"]);
        assert!(acf.uags[1].users.is_empty());
        assert_eq!(acf.hags[0].hosts, vec!["CtrlRoom1", "console.example.org"]);
        assert_eq!(acf.hags[0].line, 5);
        let def = &acf.asgs[0];
        assert_eq!(def.name, "DEFAULT");
        assert_eq!(def.rules.len(), 2);
        assert_eq!(
            def.rules[1],
            Rule {
                level: 1,
                access: Access::Write,
                trapwrite: true,
                uags: vec!["ops".into()],
                hags: vec!["ctrl".into()],
                calc: None,
                line: 8,
            }
        );
        assert_eq!(acf.asgs[1].inputs, vec![('A', "some:pv".to_string())]);
        assert!(!acf.asgs[1].rules[0].trapwrite);
        assert!(acf.asgs[2].rules.is_empty());
    }

    fn err(text: &str) -> AcfError {
        parse(text).unwrap_err()
    }

    #[test]
    fn refuses_what_epics_refuses_with_line_and_reason() {
        let e = err("ASG(A) {\n RULE(1, WRITE) {\n UAG(ops)\n }\n}");
        assert_eq!(
            (e.line, e.kind),
            (3, AcfErrorKind::UndefinedUag("ops".into()))
        );
        let e = err("HAG(h) {x}\nASG(A) { RULE(1, READ) { HAG(h, g) } }");
        assert_eq!(e.kind, AcfErrorKind::UndefinedHag("g".into()));
        let e = err("ASG(A) {\n RULE(1, write)\n}");
        assert_eq!(
            (e.line, e.kind),
            (2, AcfErrorKind::BadAccess("write".into()))
        );
        let e = err("ASG(A) { RULE(1, READ, LOG) }");
        assert_eq!(e.kind, AcfErrorKind::BadOption("LOG".into()));
        let e = err("ASG(A) { RULE(x, READ) }");
        assert_eq!(e.kind, AcfErrorKind::BadLevel("x".into()));
        let e = err("UAG(a) {x}\nUAG(a) {y}");
        assert_eq!(
            (e.line, e.kind),
            (2, AcfErrorKind::DuplicateUag("a".into()))
        );
        let e = err("ASG(A)\nASG(A)");
        assert_eq!(e.kind, AcfErrorKind::DuplicateAsg("A".into()));
        let e = err("ASG(A) {\n RULE(1, READ) {\n CALC(\"A>\")\n }\n}");
        assert_eq!(e.line, 3);
        assert!(
            matches!(&e.kind, AcfErrorKind::BadCalc { expr, error }
                if expr == "A>" && error.kind == CalcErrorKind::Incomplete),
            "{e}"
        );
        let e = err("ASG(A) { RULE(1, READ) { CALC(\"A:=1;A\") } }");
        assert_eq!(e.kind, AcfErrorKind::CalcAssignment("A:=1;A".into()));
        let acf =
            parse("ASG(A) { INPB(\"x\") RULE(1, READ) { CALC(\"1\") CALC(\"B>1\") } }").unwrap();
        assert_eq!(acf.asgs[0].rules[0].calc.as_deref(), Some("B>1"));
        assert_eq!(err("  # nothing\n").kind, AcfErrorKind::Empty);
        let e = err("ASG(A) {\n}");
        assert_eq!(e.line, 2);
        assert!(matches!(e.kind, AcfErrorKind::Unexpected { .. }), "{e}");
        let e = err("uag(a)");
        assert!(matches!(e.kind, AcfErrorKind::Unexpected { .. }), "{e}");
        let e = err("ASG(A) { RULE(1, READ)");
        assert_eq!(
            e.kind,
            AcfErrorKind::Unexpected {
                expected: "RULE, INP<A-L> or '}'",
                found: "end of file".into()
            }
        );
        let e = err("ASG(A) { RULE(1, READ) {} }");
        assert!(
            e.to_string()
                .contains("expected UAG, HAG or CALC, found '}'"),
            "{e}"
        );
    }

    /// Token soup and mutated files: every input gives rules or an error on
    /// a line of the text, never a panic.
    #[test]
    fn random_inputs_never_panic_and_errors_name_a_real_line() {
        let pieces = [
            "UAG",
            "HAG",
            "ASG",
            "RULE",
            "CALC",
            "INPA",
            "INPZ",
            "(",
            ")",
            "{",
            "}",
            ",",
            "\n",
            "DEFAULT",
            "ops",
            "1",
            "0",
            "99999999999",
            "READ",
            "WRITE",
            "NONE",
            "TRAPWRITE",
            "\"q\"",
            "\"open",
            "#c\n",
            " ",
            "@",
            "é",
            "\\",
            "\"a\\\"b\"",
        ];
        let mut rng = crate::rng::Rng(0x5eed_acf1);
        for round in 0..4000 {
            let mut text = String::new();
            if round % 2 == 0 {
                for _ in 0..rng.below(40) {
                    text.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
                    if rng.below(3) == 0 {
                        text.push(' ');
                    }
                }
            } else {
                let mut bytes = SAMPLE.as_bytes().to_vec();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(bytes.len() as u64) as usize;
                    match rng.below(3) {
                        0 => {
                            let set = b"(){},\"#\n aZ1";
                            bytes[i] = set[rng.below(set.len() as u64) as usize];
                        }
                        1 => {
                            bytes.remove(i);
                        }
                        _ => bytes.insert(i, b"(){},\""[rng.below(6) as usize]),
                    }
                }
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            if let Err(e) = parse(&text) {
                let lines = text.matches('\n').count() as u32 + 1;
                assert!((1..=lines).contains(&e.line), "{e} for {text:?}");
                assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn an_empty_default_may_be_given_again() {
        let acf = parse("ASG(DEFAULT)\nASG(DEFAULT) { RULE(1, READ) }").unwrap();
        assert_eq!(acf.asgs.len(), 1);
        assert_eq!(acf.asgs[0].rules.len(), 1);
        let e = err("ASG(DEFAULT) { RULE(1, READ) }\nASG(DEFAULT)");
        assert_eq!(e.kind, AcfErrorKind::DuplicateAsg("DEFAULT".into()));
    }
}
