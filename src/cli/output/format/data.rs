//! The data text of a line: caproto's layout of the elements (`[1 2.5 3]`,
//! `%g` numbers, `-e/-f/-g/-lx/-0x/-S/-F` options), streamed into the line in
//! chunks so a million-element array is never one huge string.

use crate::cli::output::numfmt::{write_e, write_f, write_g, write_radix, Radix};
use crate::proto::dbr::Value;

/// How floating-point elements are written (`-e`, `-f`, `-g`, `-s`, `-lx`, `-lo`, `-lb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatStyle {
    /// `%g` (the default).
    #[default]
    General,
    /// `-e N`: `%.Ne`.
    Exp(usize),
    /// `-f N`: `%.Nf`.
    Fixed(usize),
    /// `-g N`: `%.Ng`.
    GeneralPrec(usize),
    /// `-s`: caproto prints `%f` (it does not ask the server for a string).
    ServerString,
    /// `-lx/-lo/-lb`: round half-to-even to an integer and print in that base.
    Rounded(Radix),
}

/// Everything that changes how the elements of a value are written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataFormat {
    /// Float element style.
    pub float: FloatStyle,
    /// `-0x/-0o/-0b` for integer elements; decimal (via `%g`, as caproto) when `None`.
    pub int_radix: Option<Radix>,
    /// `-S`: integer arrays are printed as text.
    pub char_as_string: bool,
    /// `-F`: separator between elements (and between fields of the line).
    pub separator: Option<String>,
}

/// Integer elements as text for `-S`: up to the first NUL (as caget does;
/// caproto also prints the NUL and whatever follows), UTF-8 decoded leniently.
fn ints_as_text(codes: impl Iterator<Item = i64>) -> String {
    let bytes: Vec<u8> = codes
        .take_while(|&c| c != 0)
        .map(|c| u8::try_from(c).unwrap_or(b'?'))
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Round half to even, saturating, as Python's `int(round(x))` (non-finite give 0).
fn round_even(x: f64) -> i64 {
    if x.is_finite() {
        x.round_ties_even() as i64
    } else {
        0
    }
}

/// How much element text is gathered before it is handed on when streaming.
const DATA_CHUNK: usize = 64 * 1024;

/// Hands gathered element text on (e.g. to standard output) and empties the buffer.
type ChunkFlush<'a> = &'a mut dyn FnMut(&mut String) -> std::io::Result<()>;

/// Where element text goes: appended to `buf`, which is handed to `flush`
/// whenever it holds [`DATA_CHUNK`] bytes or more (never, when `flush` is
/// `None`). `flush` must empty the buffer.
pub(super) struct DataOut<'a> {
    pub(super) buf: &'a mut String,
    pub(super) flush: Option<ChunkFlush<'a>>,
}

impl DataOut<'_> {
    fn maybe_flush(&mut self) -> std::io::Result<()> {
        match &mut self.flush {
            Some(f) if self.buf.len() >= DATA_CHUNK => f(self.buf),
            _ => Ok(()),
        }
    }
}

/// Append each element with `each`, separated by `sep`, bracketed or not.
fn elements<T>(
    items: &[T],
    sep: &str,
    brackets: bool,
    out: &mut DataOut<'_>,
    each: impl Fn(&mut String, &T),
) -> std::io::Result<()> {
    if brackets {
        out.buf.push('[');
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.buf.push_str(sep);
        }
        each(out.buf, item);
        out.maybe_flush()?;
    }
    if brackets {
        out.buf.push(']');
    }
    Ok(())
}

/// Append an integer element: in `radix`, or through `%g` as caproto does.
fn write_int(out: &mut String, i: i64, radix: Option<Radix>) {
    match radix {
        Some(r) => write_radix(out, i, r),
        // caproto formats integers with '{:g}', which goes through float.
        None => write_g(out, i as f64, 6),
    }
}

/// caproto's rendering of the elements (`format_response_data`), written
/// element by element through `out`.
pub(super) fn write_elements(
    value: &Value,
    fmt: &DataFormat,
    unbracketed: bool,
    out: &mut DataOut<'_>,
) -> std::io::Result<()> {
    if value.is_empty() {
        out.buf.push_str("[]");
        return Ok(());
    }
    let sep = fmt.separator.as_deref().unwrap_or(" ");
    let brackets = !unbracketed;
    let style = fmt.float;
    let radix = fmt.int_radix;
    if fmt.char_as_string {
        let text = match value {
            Value::Short(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            Value::Enum(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            Value::Char(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            Value::Long(v) => Some(ints_as_text(v.iter().map(|&x| i64::from(x)))),
            _ => None,
        };
        if let Some(text) = text {
            out.buf.push_str(&text);
            return Ok(());
        }
    }
    match value {
        Value::String(v) => elements(v, sep, brackets, out, |o, s| o.push_str(s)),
        Value::Double(v) => elements(v, sep, brackets, out, |o, &x| write_float(o, x, style)),
        Value::Float(v) => elements(v, sep, brackets, out, |o, &x| {
            write_float(o, f64::from(x), style)
        }),
        Value::Short(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
        Value::Enum(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
        Value::Char(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
        Value::Long(v) => elements(v, sep, brackets, out, |o, &x| {
            write_int(o, i64::from(x), radix)
        }),
    }
}

/// Append caproto's rendering of the elements (`format_response_data`):
/// `[a b c]`, without brackets when `unbracketed`.
pub fn write_data(out: &mut String, value: &Value, fmt: &DataFormat, unbracketed: bool) {
    let mut sink = DataOut {
        buf: out,
        flush: None,
    };
    // Cannot fail: nothing is flushed.
    let _ = write_elements(value, fmt, unbracketed, &mut sink);
}

/// caproto's rendering of the elements (`format_response_data`): `[a b c]`,
/// without brackets when `unbracketed`.
pub fn format_data(value: &Value, fmt: &DataFormat, unbracketed: bool) -> String {
    let mut s = String::new();
    write_data(&mut s, value, fmt, unbracketed);
    s
}

fn write_float(out: &mut String, x: f64, style: FloatStyle) {
    match style {
        FloatStyle::General => write_g(out, x, 6),
        FloatStyle::Exp(n) => write_e(out, x, n),
        FloatStyle::Fixed(n) => write_f(out, x, n),
        FloatStyle::GeneralPrec(n) => write_g(out, x, n),
        FloatStyle::ServerString => write_f(out, x, 6),
        FloatStyle::Rounded(r) => write_radix(out, round_even(x), r),
    }
}
