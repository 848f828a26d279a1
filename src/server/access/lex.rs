//! Tokens of an ACF file, as EPICS base's `asLib_lex.l` defines them.
//!
//! A word is a run of `[a-zA-Z0-9_\-+:.\[\]<>;]`. The whole run decides what
//! it is (flex takes the longest match): `UAG`, `HAG`, `ASG`, `RULE`, `CALC`
//! and `INPA`..`INPL` are keywords (case-sensitive), a run of digits is an
//! integer, anything else a string. Quoted strings keep their backslash
//! escapes as written, as EPICS does. `#` starts a comment to the end of the
//! line.

use super::error::{AcfError, AcfErrorKind};

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    Uag,
    Hag,
    Asg,
    Rule,
    Calc,
    /// `INPA`..`INPL`: the input's letter.
    Inp(char),
    Int(u32),
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Uag => "UAG".into(),
            Tok::Hag => "HAG".into(),
            Tok::Asg => "ASG".into(),
            Tok::Rule => "RULE".into(),
            Tok::Calc => "CALC".into(),
            Tok::Inp(c) => format!("INP{c}"),
            Tok::Int(n) => format!("{n}"),
            Tok::Str(s) => format!("{s:?}"),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBrace => "'{'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::Comma => "','".into(),
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-+:.[]<>;".contains(c)
}

/// Splits ACF text into tokens with their line numbers (1-based).
pub(super) struct Lexer<'a> {
    rest: &'a str,
    line: u32,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Lexer {
            rest: text,
            line: 1,
        }
    }

    /// The line the lexer has reached (where end of input is reported).
    pub(super) fn line(&self) -> u32 {
        self.line
    }

    fn error(&self, kind: AcfErrorKind) -> AcfError {
        AcfError {
            line: self.line,
            kind,
        }
    }

    /// The next token and its line, `None` at the end of the text.
    pub(super) fn next_token(&mut self) -> Result<Option<(Tok, u32)>, AcfError> {
        loop {
            let Some(c) = self.rest.chars().next() else {
                return Ok(None);
            };
            match c {
                '\n' => {
                    self.line += 1;
                    self.rest = &self.rest[1..];
                }
                ' ' | '\t' | '\r' => self.rest = &self.rest[1..],
                '#' => {
                    let end = self.rest.find('\n').unwrap_or(self.rest.len());
                    self.rest = &self.rest[end..];
                }
                _ => break,
            }
        }
        let line = self.line;
        let c = self.rest.chars().next().unwrap_or(' ');
        let punct = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = punct {
            self.rest = &self.rest[1..];
            return Ok(Some((tok, line)));
        }
        if c == '"' {
            return self.quoted().map(|s| Some((Tok::Str(s), line)));
        }
        if is_name_char(c) {
            let end = self
                .rest
                .find(|ch: char| !is_name_char(ch))
                .unwrap_or(self.rest.len());
            let word = &self.rest[..end];
            self.rest = &self.rest[end..];
            return Ok(Some((self.word(word, line)?, line)));
        }
        Err(self.error(AcfErrorKind::InvalidCharacter(c)))
    }

    fn word(&self, word: &str, line: u32) -> Result<Tok, AcfError> {
        Ok(match word {
            "UAG" => Tok::Uag,
            "HAG" => Tok::Hag,
            "ASG" => Tok::Asg,
            "RULE" => Tok::Rule,
            "CALC" => Tok::Calc,
            w if w.len() == 4 && w.starts_with("INP") && matches!(w.as_bytes()[3], b'A'..=b'L') => {
                Tok::Inp(w.as_bytes()[3] as char)
            }
            w if w.bytes().all(|b| b.is_ascii_digit()) => match w.parse() {
                Ok(n) => Tok::Int(n),
                Err(_) => {
                    return Err(AcfError {
                        line,
                        kind: AcfErrorKind::BadLevel(w.to_string()),
                    })
                }
            },
            w => Tok::Str(w.to_string()),
        })
    }

    /// A quoted string, the lexer sitting on its opening quote.
    fn quoted(&mut self) -> Result<String, AcfError> {
        let body = &self.rest[1..];
        let mut chars = body.char_indices();
        while let Some((i, ch)) = chars.next() {
            match ch {
                '"' => {
                    let s = body[..i].to_string();
                    self.rest = &body[i + 1..];
                    return Ok(s);
                }
                '\\' => match chars.next() {
                    Some((_, '\n')) | None => break,
                    Some(_) => {}
                },
                '\n' => break,
                _ => {}
            }
        }
        Err(self.error(AcfErrorKind::UnterminatedString))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(text);
        let mut out = Vec::new();
        while let Some((t, _)) = lx.next_token().unwrap() {
            out.push(t);
        }
        out
    }

    #[test]
    fn words_keywords_integers_and_punctuation() {
        assert_eq!(
            toks("UAG(uag) {a-b, c.d} RULE(1,WRITE) INPA INPM UAGX 12 12x uag"),
            vec![
                Tok::Uag,
                Tok::LParen,
                Tok::Str("uag".into()),
                Tok::RParen,
                Tok::LBrace,
                Tok::Str("a-b".into()),
                Tok::Comma,
                Tok::Str("c.d".into()),
                Tok::RBrace,
                Tok::Rule,
                Tok::LParen,
                Tok::Int(1),
                Tok::Comma,
                Tok::Str("WRITE".into()),
                Tok::RParen,
                Tok::Inp('A'),
                Tok::Str("INPM".into()),
                Tok::Str("UAGX".into()),
                Tok::Int(12),
                Tok::Str("12x".into()),
                Tok::Str("uag".into()),
            ]
        );
    }

    #[test]
    fn comments_lines_and_quoted_strings() {
        let mut lx = Lexer::new("# a comment\n\"with space\" # more\n  \"esc\\\"q\"");
        assert_eq!(
            lx.next_token().unwrap(),
            Some((Tok::Str("with space".into()), 2))
        );
        assert_eq!(
            lx.next_token().unwrap(),
            Some((Tok::Str("esc\\\"q".into()), 3))
        );
        assert_eq!(lx.next_token().unwrap(), None);
    }

    #[test]
    fn bad_characters_and_open_quotes_are_errors_with_their_line() {
        let e = Lexer::new("\n\n  @").next_token().unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.kind, AcfErrorKind::InvalidCharacter('@'));
        let e = Lexer::new("\"open\nUAG").next_token().unwrap_err();
        assert_eq!(e.kind, AcfErrorKind::UnterminatedString);
        let e = Lexer::new("99999999999").next_token().unwrap_err();
        assert!(matches!(e.kind, AcfErrorKind::BadLevel(_)));
    }
}
