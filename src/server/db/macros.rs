//! Macro substitution as EPICS's macLib does it for database files:
//! `$(NAME)` and `${NAME}`, a default with `$(NAME=default)`, values and
//! defaults that contain macros themselves, and definition lists written
//! `NAME=value,NAME2="a, b"` (softIoc's `-m`).

use std::collections::HashMap;

use super::error::DbErrorKind;

/// Deepest nesting of macro values (a cycle is reported before this).
const MAX_DEPTH: usize = 50;

/// A set of macro definitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Macros {
    values: HashMap<String, String>,
}

impl Macros {
    /// No definitions.
    pub fn new() -> Macros {
        Macros::default()
    }

    /// Parse a definition list (`P=pre:,Q=2`, values may be quoted with
    /// `"` or `'` to hold commas; spaces around names are ignored).
    pub fn parse(list: &str) -> Result<Macros, DbErrorKind> {
        let mut m = Macros::new();
        m.add_list(list)?;
        Ok(m)
    }

    /// Add the definitions of `list` (later ones replace earlier ones).
    pub fn add_list(&mut self, list: &str) -> Result<(), DbErrorKind> {
        let bad = || DbErrorKind::BadMacroDefinition(list.to_string());
        let mut chars = list.chars().peekable();
        loop {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || c == ',' {
                    break;
                }
                name.push(c);
                chars.next();
            }
            let name = name.trim().to_string();
            match chars.next() {
                Some('=') => {}
                None if name.is_empty() => return Ok(()),
                _ => return Err(bad()),
            }
            if name.is_empty() {
                return Err(bad());
            }
            let mut value = String::new();
            let mut quote = None;
            while let Some(&c) = chars.peek() {
                match (quote, c) {
                    (None, ',') => break,
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (_, '\\') => {
                        chars.next();
                        match chars.peek() {
                            Some(&e) => value.push(e),
                            None => return Err(bad()),
                        }
                    }
                    _ => value.push(c),
                }
                chars.next();
            }
            if quote.is_some() {
                return Err(bad());
            }
            self.values.insert(name, value.trim().to_string());
            if chars.next().is_none() {
                return Ok(());
            }
        }
    }

    /// Define `name` as `value`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
    }

    /// The value of `name`, unexpanded.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `text` with every macro reference replaced.
    pub fn expand(&self, text: &str) -> Result<String, DbErrorKind> {
        let mut out = String::with_capacity(text.len());
        self.expand_into(text, &mut out, &mut Vec::new())?;
        Ok(out)
    }

    fn expand_into(
        &self,
        text: &str,
        out: &mut String,
        active: &mut Vec<String>,
    ) -> Result<(), DbErrorKind> {
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let close = match after.chars().next() {
                Some('(') => ')',
                Some('{') => '}',
                _ => {
                    out.push('$');
                    rest = after;
                    continue;
                }
            };
            let open = if close == ')' { '(' } else { '{' };
            // The reference ends at the matching close (defaults may nest).
            let mut depth = 0;
            let mut end = None;
            for (i, c) in after.char_indices() {
                if c == open {
                    depth += 1;
                } else if c == close {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
            }
            let Some(end) = end else {
                // An unclosed reference is kept as written, as macLib does.
                out.push('$');
                rest = after;
                continue;
            };
            let inner = &after[1..end];
            let (name, default) = match inner.split_once('=') {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let mut name_expanded = String::new();
            self.expand_into(name, &mut name_expanded, active)?;
            let name = name_expanded.trim().to_string();
            if active.contains(&name) || active.len() > MAX_DEPTH {
                return Err(DbErrorKind::RecursiveMacro(name));
            }
            match (self.values.get(&name), default) {
                (Some(v), _) => {
                    active.push(name);
                    self.expand_into(v, out, active)?;
                    active.pop();
                }
                (None, Some(d)) => self.expand_into(d, out, active)?,
                (None, None) => return Err(DbErrorKind::UndefinedMacro(name)),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_defaults_and_nesting() {
        let m = Macros::parse("P=pre:, N = 3,Q=$(P)q,S=\"a, b\"").unwrap();
        assert_eq!(m.expand("$(P)x${N}").unwrap(), "pre:x3");
        assert_eq!(m.expand("$(Q)").unwrap(), "pre:q");
        assert_eq!(m.expand("$(S)").unwrap(), "a, b");
        assert_eq!(m.expand("$(X=def)").unwrap(), "def");
        assert_eq!(m.expand("$(X=$(P)d)").unwrap(), "pre:d");
        assert_eq!(m.expand("cost $5 $(").unwrap(), "cost $5 $(");
        assert_eq!(
            m.expand("$(NOPE)"),
            Err(DbErrorKind::UndefinedMacro("NOPE".into()))
        );
    }

    #[test]
    fn cycles_and_bad_lists_are_refused() {
        let m = Macros::parse("A=$(B),B=$(A)").unwrap();
        assert!(matches!(
            m.expand("$(A)"),
            Err(DbErrorKind::RecursiveMacro(_))
        ));
        for bad in ["=1", "A", "A=\"open", "A=1,,B"] {
            assert!(Macros::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Macros::parse("").unwrap(), Macros::new());
    }
}
