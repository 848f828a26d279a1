//! The EPICS database file grammar, read by recursive descent over the
//! tokens of one file; includes are read through a callback, so the parser
//! does no I/O.
//!
//! ```text
//! file    := item*
//! item    := (record | grecord) '(' type ',' name ')' [ '{' body* '}' ]
//!          | alias '(' record ',' alias ')'
//!          | include string | path string | addpath string
//! body    := field '(' FIELD ',' value ')' | info '(' name ',' value ')'
//!          | alias '(' alias ')'
//! value   := "quoted, with C escapes" | bareword
//! ```
//!
//! Macros (`$(NAME)`, `${NAME}`, `$(NAME=default)`) are replaced in every
//! string and bareword; an undefined one refuses the file, as softIoc
//! refuses the field or name it ends up in. A record given again with the
//! same type (or type `"*"`) gets the new fields on top of the old ones; with
//! another type it is an error. Field names are not checked here: that is
//! the record types' job.

use super::error::{DbError, DbErrorKind};
use super::lex::{tokens, unescape, Tok};
use super::macros::Macros;
use super::{Database, Location, RecordDef, MAX_INCLUDE_DEPTH};

/// Finds and reads an include file: given the name as written, returns the
/// name to report it by and its text, or why not.
pub type IncludeReader<'a> = dyn FnMut(&str) -> Result<(String, String), DbErrorKind> + 'a;

pub(super) struct Parser<'a, 'b> {
    pub db: &'a mut Database,
    pub macros: &'a Macros,
    pub include: &'a mut IncludeReader<'b>,
}

struct FileCursor {
    file: String,
    toks: Vec<(Tok, u32)>,
    at: usize,
    depth: usize,
}

impl FileCursor {
    fn line(&self) -> u32 {
        self.toks
            .get(self.at)
            .or(self.toks.last())
            .map_or(1, |(_, l)| *l)
    }

    fn fail(&self, line: u32, kind: DbErrorKind) -> DbError {
        DbError {
            file: self.file.clone(),
            line,
            kind,
        }
    }

    fn next(&mut self, expected: &'static str) -> Result<(Tok, u32), DbError> {
        match self.toks.get(self.at) {
            Some(t) => {
                self.at += 1;
                Ok(t.clone())
            }
            None => Err(self.fail(
                self.line(),
                DbErrorKind::Unexpected {
                    expected,
                    found: "end of file".into(),
                },
            )),
        }
    }

    fn expect(&mut self, want: Tok, expected: &'static str) -> Result<u32, DbError> {
        let (tok, line) = self.next(expected)?;
        if tok == want {
            Ok(line)
        } else {
            Err(self.fail(
                line,
                DbErrorKind::Unexpected {
                    expected,
                    found: tok.describe(),
                },
            ))
        }
    }

    fn peek_is(&self, want: &Tok) -> bool {
        self.toks.get(self.at).is_some_and(|(t, _)| t == want)
    }
}

impl Parser<'_, '_> {
    /// Parse `text` as file `file` (included `depth` levels deep).
    pub fn file(&mut self, file: &str, text: &str, depth: usize) -> Result<(), DbError> {
        let toks = tokens(text).map_err(|(line, kind)| DbError {
            file: file.to_string(),
            line,
            kind,
        })?;
        let mut c = FileCursor {
            file: file.to_string(),
            toks,
            at: 0,
            depth,
        };
        while c.at < c.toks.len() {
            self.item(&mut c)?;
        }
        Ok(())
    }

    /// A string or bareword, macros expanded; quoted values also unescaped.
    fn value(&self, c: &mut FileCursor, expected: &'static str) -> Result<(String, u32), DbError> {
        let (tok, line) = c.next(expected)?;
        let (raw, quoted) = match tok {
            Tok::Quoted(s) => (s, true),
            Tok::Word(s) => (s, false),
            other => {
                return Err(c.fail(
                    line,
                    DbErrorKind::Unexpected {
                        expected,
                        found: other.describe(),
                    },
                ))
            }
        };
        let expanded = self.macros.expand(&raw).map_err(|k| c.fail(line, k))?;
        Ok((
            if quoted {
                unescape(&expanded)
            } else {
                expanded
            },
            line,
        ))
    }

    fn item(&mut self, c: &mut FileCursor) -> Result<(), DbError> {
        let (tok, line) = c.next("record, grecord, alias or include")?;
        let word = match &tok {
            Tok::Word(w) => w.as_str(),
            _ => "",
        };
        match word {
            "record" | "grecord" => self.record(c, line),
            "alias" => {
                c.expect(Tok::LParen, "'('")?;
                let (target, _) = self.value(c, "a record name")?;
                c.expect(Tok::Comma, "','")?;
                let (alias, _) = self.value(c, "an alias name")?;
                c.expect(Tok::RParen, "')'")?;
                self.db.aliases.push((
                    target,
                    alias,
                    Location {
                        file: c.file.clone(),
                        line,
                    },
                ));
                Ok(())
            }
            "include" => {
                let (name, nline) = self.value(c, "an include file name")?;
                if c.depth + 1 > MAX_INCLUDE_DEPTH {
                    return Err(c.fail(nline, DbErrorKind::IncludeTooDeep));
                }
                let (file, text) = (self.include)(&name).map_err(|k| c.fail(nline, k))?;
                self.file(&file, &text, c.depth + 1)
            }
            "path" | "addpath" => {
                // The loader's include path is given by the caller; accept and ignore.
                self.value(c, "a path")?;
                Ok(())
            }
            "menu" | "recordtype" | "device" | "driver" | "link" | "registrar" | "function"
            | "variable" | "breaktable" => Err(c.fail(line, DbErrorKind::Unsupported(word.into()))),
            _ => Err(c.fail(
                line,
                DbErrorKind::Unexpected {
                    expected: "record, grecord, alias or include",
                    found: tok.describe(),
                },
            )),
        }
    }

    fn record(&mut self, c: &mut FileCursor, line: u32) -> Result<(), DbError> {
        c.expect(Tok::LParen, "'('")?;
        let (rtyp, _) = self.value(c, "a record type")?;
        c.expect(Tok::Comma, "','")?;
        let (name, nline) = self.value(c, "a record name")?;
        c.expect(Tok::RParen, "')'")?;
        let file = c.file.clone();
        let here = move |l| Location {
            file: file.clone(),
            line: l,
        };
        let index = match self.db.index.get(&name).copied() {
            Some(i) if rtyp == "*" || self.db.records[i].rtyp == rtyp => i,
            Some(i) => {
                let old = self.db.records[i].rtyp.clone();
                return Err(c.fail(
                    line,
                    DbErrorKind::RecordRedefined {
                        name,
                        old,
                        new: rtyp,
                    },
                ));
            }
            None if rtyp == "*" => return Err(c.fail(nline, DbErrorKind::NoSuchRecord(name))),
            None => {
                self.db.index.insert(name.clone(), self.db.records.len());
                self.db.records.push(RecordDef {
                    rtyp,
                    name,
                    fields: Vec::new(),
                    infos: Vec::new(),
                    aliases: Vec::new(),
                    location: here(line),
                });
                self.db.records.len() - 1
            }
        };
        if !c.peek_is(&Tok::LBrace) {
            return Ok(());
        }
        c.next("'{'")?;
        loop {
            let (tok, l) = c.next("field, info, alias or '}'")?;
            match &tok {
                Tok::RBrace => return Ok(()),
                Tok::Word(w) if w == "field" || w == "info" => {
                    let is_field = w == "field";
                    c.expect(Tok::LParen, "'('")?;
                    let (key, _) = self.value(c, "a field name")?;
                    c.expect(Tok::Comma, "','")?;
                    let (value, _) = self.value(c, "a value")?;
                    c.expect(Tok::RParen, "')'")?;
                    let rec = &mut self.db.records[index];
                    let list = if is_field {
                        &mut rec.fields
                    } else {
                        &mut rec.infos
                    };
                    // A later definition replaces an earlier one.
                    list.retain(|(k, _, _)| *k != key);
                    list.push((key, value, here(l)));
                }
                Tok::Word(w) if w == "alias" => {
                    c.expect(Tok::LParen, "'('")?;
                    let (alias, _) = self.value(c, "an alias name")?;
                    c.expect(Tok::RParen, "')'")?;
                    self.db.records[index].aliases.push((alias, here(l)));
                }
                other => {
                    return Err(c.fail(
                        l,
                        DbErrorKind::Unexpected {
                            expected: "field, info, alias or '}'",
                            found: other.describe(),
                        },
                    ))
                }
            }
        }
    }
}
