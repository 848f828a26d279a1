//! Tokens of the database file language (EPICS's dbLex.l): punctuation,
//! quoted strings (`\"` and other escapes kept for the parser), barewords of
//! `[A-Za-z0-9_-+:.[]<>;]` and `$(...)`/`${...}` macro references, and `#`
//! comments to the end of the line.

use super::error::DbErrorKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    /// A quoted string's contents, escapes still in.
    Quoted(String),
    Word(String),
}

impl Tok {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBrace => "'{'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::Comma => "','".into(),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Word(s) => format!("'{s}'"),
        }
    }
}

fn bareword(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-+:.[]<>;".contains(c)
}

/// The tokens of `text` with their lines, or the line and reason of the first fault.
pub(super) fn tokens(text: &str) -> Result<Vec<(Tok, u32)>, (u32, DbErrorKind)> {
    let mut out = Vec::new();
    let mut line = 1u32;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let tok = match c {
            '\n' => {
                line += 1;
                continue;
            }
            c if c.is_whitespace() => continue,
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
                continue;
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            ',' => Tok::Comma,
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None | Some('\n') => return Err((line, DbErrorKind::UnterminatedString)),
                        Some('"') => break,
                        Some('\\') => {
                            s.push('\\');
                            match chars.next() {
                                None | Some('\n') => {
                                    return Err((line, DbErrorKind::UnterminatedString))
                                }
                                Some(e) => s.push(e),
                            }
                        }
                        Some(c) => s.push(c),
                    }
                }
                Tok::Quoted(s)
            }
            c if bareword(c) || c == '$' => {
                let mut s = String::from(c);
                // A macro reference may sit in a bareword: `$(P)name`.
                let mut depth = 0;
                if c == '$' {
                    match chars.peek() {
                        Some('(' | '{') => {}
                        _ => return Err((line, DbErrorKind::InvalidCharacter('$'))),
                    }
                }
                while let Some(&n) = chars.peek() {
                    if n == '(' || n == '{' {
                        if !s.ends_with('$') && depth == 0 {
                            break;
                        }
                        depth += 1;
                    } else if n == ')' || n == '}' {
                        if depth == 0 {
                            break;
                        }
                        depth -= 1;
                    } else if n == '\n' || (depth == 0 && !bareword(n) && n != '$') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                Tok::Word(s)
            }
            c => return Err((line, DbErrorKind::InvalidCharacter(c))),
        };
        out.push((tok, line));
    }
    Ok(out)
}

/// C escapes in a quoted value: `\n \t \r \\ \" \' \xHH \ooo`; others keep the character.
pub(super) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('x') => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match chars.peek().and_then(|c| c.to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            Some(d @ '0'..='7') => {
                let mut v = d.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_lines_and_comments() {
        let t = tokens("record(ai, \"a\\\"b\") { # note\n field(EGU, mm)\n}").unwrap();
        let kinds: Vec<_> = t.iter().map(|(t, l)| (t.describe(), *l)).collect();
        assert_eq!(kinds[0], ("'record'".into(), 1));
        assert_eq!(t[4].0, Tok::Quoted("a\\\"b".into()));
        assert_eq!(kinds[7], ("'field'".into(), 2));
        assert_eq!(t[11].0, Tok::Word("mm".into()));
        assert_eq!(kinds.last().unwrap().1, 3);
        assert_eq!(
            tokens("record(ai, $(P)x:y)").unwrap()[4].0,
            Tok::Word("$(P)x:y".into())
        );
    }

    #[test]
    fn faults_carry_their_line() {
        assert_eq!(
            tokens("\n\"open\n"),
            Err((2, DbErrorKind::UnterminatedString))
        );
        assert_eq!(tokens("a\n@"), Err((2, DbErrorKind::InvalidCharacter('@'))));
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"q\"x\\y\tz\x41\101"#), "q\"x\\y\tzAA");
    }
}
