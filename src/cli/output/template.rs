//! The subset of Python's `str.format` mini-language that caproto's `--format`
//! option exposes: literal text, `{{`/`}}` escapes, and fields such as
//! `{pv_name: <40}`, `{response.data}`, `{response.data[0]}`,
//! `{timestamp:%H:%M:%S.%f}` and `{callback_count:>5}`.
//!
//! The template is parsed once; each output line then renders it against a
//! lookup function that resolves field paths to [`FieldValue`]s.

mod spec;

use self::spec::{insert_sign, pad_into, parse_spec, render_float, Spec};
use std::borrow::Cow;
use std::fmt::Write as _;

use crate::cli::output::timefmt::{timedelta_string, Stamp, TimeCache, Zone};

/// One step of a field path: `.name` or `[key]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Attribute access, `.data`.
    Attr(String),
    /// Item access, `[0]`.
    Index(String),
}

/// A replacement field: `{root.seg[..]!conv:spec}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The first name, e.g. `response`.
    pub root: String,
    /// Attribute and item accesses after it.
    pub path: Vec<Segment>,
    /// `!r` or `!s`, if given.
    pub conversion: Option<char>,
    /// Everything after `:`.
    pub spec: String,
}

impl Field {
    /// The path as written, e.g. `response.data[0]`, for messages and lookups.
    pub fn dotted(&self) -> String {
        let mut s = self.root.clone();
        for seg in &self.path {
            match seg {
                Segment::Attr(a) => {
                    s.push('.');
                    s.push_str(a);
                }
                Segment::Index(i) => {
                    s.push('[');
                    s.push_str(i);
                    s.push(']');
                }
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// A field and its spec parsed as a standard spec (`None` when it is not
    /// one, e.g. a `strftime` pattern; an error only if the value needs it).
    Field(Field, Option<Spec>),
}

/// A parsed `--format` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// A value a field resolves to; the kind decides how its format spec is read.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// Text (spec: fill, align, width, precision), borrowed where it can be
    /// (a PV name is not copied for each line).
    Str(Cow<'a, str>),
    /// An integer (spec: fill, align, sign, width, `d x X o b`).
    Int(i64),
    /// A float (spec: fill, align, sign, width, precision, `e f g`).
    Float(f64),
    /// A wall-clock time (spec: a `strftime` pattern).
    Time(Stamp),
    /// A time difference in microseconds (rendered like Python's timedelta).
    Delta(i64),
    /// The reading's elements. Their text is written by the caller's data
    /// writer; with no spec and no conversion it may be streamed (see
    /// [`Template::render_parts`]) instead of being built as one string.
    Data {
        /// Leave out the surrounding brackets.
        unbracketed: bool,
    },
}

impl<'a> FieldValue<'a> {
    /// A text value, owned or borrowed.
    pub fn text(s: impl Into<Cow<'a, str>>) -> FieldValue<'a> {
        FieldValue::Str(s.into())
    }
}

/// Why a template could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// A `{` without its `}`, or a lone `}`.
    Unbalanced,
    /// A field with no name, `{}`; positional fields are not supported.
    EmptyField,
    /// The field does not exist for this output (e.g. `{timestamp}` on a plain-type read).
    UnknownField(String),
    /// The format spec after `:` does not apply to the field's value.
    BadSpec { field: String, spec: String },
    /// `!x` with something other than `r` or `s`.
    BadConversion(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Unbalanced => f.write_str(
                "format string has an unmatched '{' or '}' (write {{ or }} for literal braces)",
            ),
            TemplateError::EmptyField => {
                f.write_str("format string has an empty field {}; name a token such as {pv_name}")
            }
            TemplateError::UnknownField(name) => {
                write!(f, "format field {{{name}}} is not available here")
            }
            TemplateError::BadSpec { field, spec } => {
                write!(f, "invalid format spec {spec:?} for field {{{field}}}")
            }
            TemplateError::BadConversion(field) => {
                write!(
                    f,
                    "field {{{field}}} has an unknown conversion (use !r or !s)"
                )
            }
        }
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parse Python format syntax.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '}' => return Err(TemplateError::Unbalanced),
                '{' => {
                    let mut body = String::new();
                    let mut depth = 1;
                    for c in chars.by_ref() {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        if depth == 0 {
                            break;
                        }
                        body.push(c);
                    }
                    if depth != 0 {
                        return Err(TemplateError::Unbalanced);
                    }
                    if !lit.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                    }
                    let field = parse_field(&body)?;
                    let spec = parse_spec(&field.spec);
                    pieces.push(Piece::Field(field, spec));
                }
                other => lit.push(other),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(Template { pieces })
    }

    /// The fields in order, for callers that want to check availability up front.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field(f, _) => Some(f),
            Piece::Literal(_) => None,
        })
    }

    /// Render the whole line into one string, with `lookup` resolving each
    /// field, `data` appending the elements for [`FieldValue::Data`], and
    /// timestamps shown in `zone`.
    pub fn render<'v>(
        &self,
        zone: Zone,
        cache: &mut TimeCache,
        lookup: &mut dyn FnMut(&Field) -> Option<FieldValue<'v>>,
        data: &mut dyn FnMut(&mut String, bool),
    ) -> Result<String, TemplateError> {
        let mut head = String::new();
        let mut tail = String::new();
        let streamed = self.render_parts(zone, cache, lookup, data, &mut head, &mut tail)?;
        if let Some(unbracketed) = streamed {
            data(&mut head, unbracketed);
        }
        head.push_str(&tail);
        Ok(head)
    }

    /// Render into `head` and `tail` (appended to), so that a large value
    /// need not be built as one string. The first field that resolves to
    /// [`FieldValue::Data`] with neither spec nor conversion is left out:
    /// the text before it goes to `head`, the text after it to `tail`, and
    /// `Some(unbracketed)` is returned for the caller to write the elements
    /// in between. Without such a field everything goes to `head` and `None`
    /// is returned. On error the line must not be printed.
    pub fn render_parts<'v>(
        &self,
        zone: Zone,
        cache: &mut TimeCache,
        lookup: &mut dyn FnMut(&Field) -> Option<FieldValue<'v>>,
        data: &mut dyn FnMut(&mut String, bool),
        head: &mut String,
        tail: &mut String,
    ) -> Result<Option<bool>, TemplateError> {
        let mut streamed = None;
        for piece in &self.pieces {
            let out = if streamed.is_some() {
                &mut *tail
            } else {
                &mut *head
            };
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Field(field, spec) => {
                    let value =
                        lookup(field).ok_or_else(|| TemplateError::UnknownField(field.dotted()))?;
                    if let FieldValue::Data { unbracketed } = value {
                        if streamed.is_none() && field.conversion.is_none() && field.spec.is_empty()
                        {
                            streamed = Some(unbracketed);
                            continue;
                        }
                    }
                    let ctx = RenderCtx {
                        zone,
                        cache: &mut *cache,
                        data: &mut *data,
                    };
                    render_value(field, spec.as_ref(), value, ctx, out)?;
                }
            }
        }
        Ok(streamed)
    }
}

/// What rendering a value may need besides the value itself.
struct RenderCtx<'a> {
    zone: Zone,
    cache: &'a mut TimeCache,
    data: &'a mut dyn FnMut(&mut String, bool),
}

fn parse_field(body: &str) -> Result<Field, TemplateError> {
    // The spec may itself contain ':' (strftime patterns), so split at the first one
    // that is outside brackets.
    let mut name_end = body.len();
    let mut in_bracket = false;
    for (i, c) in body.char_indices() {
        match c {
            '[' => in_bracket = true,
            ']' => in_bracket = false,
            ':' | '!' if !in_bracket => {
                name_end = i;
                break;
            }
            _ => {}
        }
    }
    let (name, rest) = body.split_at(name_end);
    let (conversion, spec) = if let Some(after_bang) = rest.strip_prefix('!') {
        let mut it = after_bang.chars();
        let conv = it.next();
        let remainder = it.as_str();
        if !matches!(conv, Some('r') | Some('s'))
            || !(remainder.is_empty() || remainder.starts_with(':'))
        {
            return Err(TemplateError::BadConversion(name.to_string()));
        }
        (conv, remainder.strip_prefix(':').unwrap_or(""))
    } else {
        (None, rest.strip_prefix(':').unwrap_or(""))
    };
    let (root, path) = parse_path(name)?;
    Ok(Field {
        root,
        path,
        conversion,
        spec: spec.to_string(),
    })
}

fn parse_path(name: &str) -> Result<(String, Vec<Segment>), TemplateError> {
    let root_end = name.find(['.', '[']).unwrap_or(name.len());
    let root = &name[..root_end];
    if root.is_empty() {
        return Err(TemplateError::EmptyField);
    }
    let mut path = Vec::new();
    let mut rest = &name[root_end..];
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            path.push(Segment::Attr(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or(TemplateError::Unbalanced)?;
            path.push(Segment::Index(after[..end].to_string()));
            rest = &after[end + 1..];
        } else {
            return Err(TemplateError::UnknownField(name.to_string()));
        }
    }
    Ok((root.to_string(), path))
}

fn python_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn render_value(
    field: &Field,
    spec: Option<&Spec>,
    value: FieldValue<'_>,
    ctx: RenderCtx<'_>,
    out: &mut String,
) -> Result<(), TemplateError> {
    let bad = || TemplateError::BadSpec {
        field: field.dotted(),
        spec: field.spec.clone(),
    };
    // The elements become text first when they cannot be streamed.
    let value = match value {
        FieldValue::Data { unbracketed } => {
            let mut text = String::new();
            (ctx.data)(&mut text, unbracketed);
            FieldValue::Str(text.into())
        }
        other => other,
    };
    // A conversion turns any value into text first.
    let value = match field.conversion {
        Some(conv) => {
            let text = plain_text(&value, ctx.zone);
            FieldValue::Str(Cow::Owned(
                if conv == 'r' && matches!(value, FieldValue::Str(_)) {
                    python_repr_str(&text)
                } else {
                    text
                },
            ))
        }
        None => value,
    };
    if let FieldValue::Time(t) = value {
        let pattern = (!field.spec.is_empty()).then_some(field.spec.as_str());
        return ctx
            .cache
            .write(out, t, pattern, ctx.zone)
            .map_err(|_| bad());
    }
    let spec = spec.ok_or_else(bad)?;
    match value {
        FieldValue::Str(s) => {
            if spec.sign.is_some() || !matches!(spec.kind, None | Some('s')) {
                return Err(bad());
            }
            match spec.precision {
                Some(p) => {
                    let cut: String = s.chars().take(p).collect();
                    pad_into(out, &cut, spec, '<');
                }
                None => pad_into(out, &s, spec, '<'),
            }
            Ok(())
        }
        FieldValue::Delta(us) => {
            pad_into(out, &timedelta_string(us), spec, '<');
            Ok(())
        }
        FieldValue::Int(n) => {
            let mag = n.unsigned_abs();
            let mut body = String::new();
            let _ = match spec.kind {
                None | Some('d') | Some('n') => write!(body, "{mag}"),
                Some('x') => write!(body, "{mag:x}"),
                Some('X') => write!(body, "{mag:X}"),
                Some('o') => write!(body, "{mag:o}"),
                Some('b') => write!(body, "{mag:b}"),
                Some('e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%') => {
                    return render_float(out, n as f64, spec).ok_or_else(bad)
                }
                _ => return Err(bad()),
            };
            if spec.precision.is_some() {
                return Err(bad());
            }
            insert_sign(&mut body, 0, n < 0, spec.sign);
            pad_into(out, &body, spec, '>');
            Ok(())
        }
        FieldValue::Float(x) => render_float(out, x, spec).ok_or_else(bad),
        FieldValue::Time(_) | FieldValue::Data { .. } => Err(bad()),
    }
}

/// A value's text with no spec, as Python's `str()` would give it.
fn plain_text(value: &FieldValue<'_>, zone: Zone) -> String {
    match value {
        FieldValue::Str(s) => s.to_string(),
        FieldValue::Int(n) => n.to_string(),
        FieldValue::Float(x) => crate::cli::output::numfmt::py_repr_f64(*x),
        FieldValue::Time(t) => t.to_python_string(zone),
        FieldValue::Delta(us) => timedelta_string(*us),
        // Turned into text before conversions are applied.
        FieldValue::Data { .. } => String::new(),
    }
}

/// caproto's `-F` treatment of a format string: every `}` followed by spaces
/// and a `{` becomes `}` + separator + `{`, so fields are joined by the separator.
pub fn insert_separator(format: &str, separator: &str) -> String {
    let mut out = String::with_capacity(format.len());
    let mut rest = format;
    while let Some(pos) = rest.find('}') {
        out.push_str(&rest[..=pos]);
        let after = &rest[pos + 1..];
        let trimmed = after.trim_start_matches(' ');
        if trimmed.starts_with('{') {
            out.push_str(separator);
            rest = trimmed;
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // 3.14159 is a test IOC's value, not an approximation of pi.
mod tests {
    use super::*;

    fn render(fmt: &str, values: &[(&str, FieldValue)]) -> Result<String, TemplateError> {
        let t = Template::parse(fmt)?;
        t.render(
            Zone::Utc,
            &mut TimeCache::default(),
            &mut |f: &Field| {
                values
                    .iter()
                    .find(|(k, _)| *k == f.dotted())
                    .map(|(_, v)| v.clone())
            },
            &mut |out, unbracketed| out.push_str(if unbracketed { "1 2" } else { "[1 2]" }),
        )
    }

    #[test]
    fn string_padding_like_python() {
        let v = [("pv_name", FieldValue::Str("arr:array_int".into()))];
        assert_eq!(
            render("{pv_name:>20}|", &v).unwrap(),
            "       arr:array_int|"
        );
        assert_eq!(
            render("{pv_name: <20}|", &v).unwrap(),
            "arr:array_int       |"
        );
        assert_eq!(render("{pv_name:*^17}", &v).unwrap(), "**arr:array_int**");
        assert_eq!(render("{pv_name:.3}", &v).unwrap(), "arr");
        assert_eq!(render("{pv_name!r}", &v).unwrap(), "'arr:array_int'");
        assert_eq!(render("{{{pv_name}}}", &v).unwrap(), "{arr:array_int}");
    }

    #[test]
    fn numbers_and_times() {
        let v = [
            ("n", FieldValue::Int(-42)),
            ("x", FieldValue::Float(3.14159)),
            (
                "t",
                FieldValue::Time(Stamp {
                    micros: 1_795_587_094_513_422,
                }),
            ),
            ("d", FieldValue::Delta(99_974)),
        ];
        assert_eq!(render("{n:05}", &v).unwrap(), "-0042");
        assert_eq!(render("{n:x}", &v).unwrap(), "-2a");
        assert_eq!(render("{x:.2f}|{x:10.3e}", &v).unwrap(), "3.14| 3.142e+00");
        assert_eq!(render("{x}", &v).unwrap(), "3.14159");
        assert_eq!(
            render("{t:%H:%M}|{t}", &v).unwrap(),
            "06:11|2026-11-25 06:11:34.513422"
        );
        assert_eq!(render("{d}", &v).unwrap(), "0:00:00.099974");
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(Template::parse("{pv_name"), Err(TemplateError::Unbalanced));
        assert_eq!(Template::parse("a}b"), Err(TemplateError::Unbalanced));
        assert_eq!(Template::parse("{}"), Err(TemplateError::EmptyField));
        assert_eq!(
            render("{timestamp}", &[]),
            Err(TemplateError::UnknownField("timestamp".into()))
        );
        let v = [("pv_name", FieldValue::Str("x".into()))];
        assert!(matches!(
            render("{pv_name:d}", &v),
            Err(TemplateError::BadSpec { .. })
        ));
        assert!(matches!(
            render("{pv_name!z}", &v),
            Err(TemplateError::BadConversion(_))
        ));
    }

    #[test]
    fn data_fields_are_left_for_the_caller_to_stream() {
        let t = Template::parse("{pv_name}: {response.data} ({pv_name!r})").unwrap();
        let (mut head, mut tail) = (String::new(), String::new());
        let mut calls = 0;
        let streamed = t
            .render_parts(
                Zone::Utc,
                &mut TimeCache::default(),
                &mut |f: &Field| match f.root.as_str() {
                    "pv_name" => Some(FieldValue::Str("a:b".into())),
                    _ => Some(FieldValue::Data { unbracketed: true }),
                },
                &mut |_, _| calls += 1,
                &mut head,
                &mut tail,
            )
            .unwrap();
        assert_eq!(streamed, Some(true));
        assert_eq!((head.as_str(), tail.as_str()), ("a:b: ", " ('a:b')"));
        assert_eq!(calls, 0);
        // With a spec, or the second time, the data is rendered in place.
        let v = [("response.data", FieldValue::Data { unbracketed: false })];
        assert_eq!(
            render("{response.data:*^9}|{response.data}|{response.data}", &v).unwrap(),
            "**[1 2]**|[1 2]|[1 2]"
        );
    }

    #[test]
    fn paths_parse() {
        let t = Template::parse("{response.data[0]} {response.status.name}").unwrap();
        let names: Vec<String> = t.fields().map(Field::dotted).collect();
        assert_eq!(names, ["response.data[0]", "response.status.name"]);
    }

    #[test]
    fn separator_insertion_matches_caproto() {
        assert_eq!(
            insert_separator("{pv_name}  {response.data}", "*"),
            "{pv_name}*{response.data}"
        );
        assert_eq!(
            insert_separator("{a} {b:%H} {c}x {d}", "|"),
            "{a}|{b:%H}|{c}x {d}"
        );
    }
}
