//! Low-level big-endian readers and writers and fixed-size string fields,
//! shared by the encoder and decoder.

use super::{DbrError, NativeType};
use std::borrow::Cow;

/// A cursor over a received payload. Every read is bounds-checked and
/// reports [`DbrError::Truncated`] rather than panicking.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DbrError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(DbrError::Truncated {
                needed: self.pos.saturating_add(n),
                got: self.bytes.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DbrError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DbrError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DbrError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// One element of a numeric native type, widened to f64 (exact for all).
    pub(crate) fn number_as_f64(&mut self, native: NativeType) -> Result<f64, DbrError> {
        Ok(match native {
            NativeType::Short => f64::from(i16::from_be_bytes(self.array()?)),
            NativeType::Enum => f64::from(u16::from_be_bytes(self.array()?)),
            NativeType::Float => f64::from(f32::from_be_bytes(self.array()?)),
            NativeType::Char => f64::from(self.array::<1>()?[0]),
            NativeType::Long => f64::from(i32::from_be_bytes(self.array()?)),
            NativeType::Double => f64::from_be_bytes(self.array()?),
            NativeType::String => 0.0,
        })
    }
}

/// Text of a NUL-terminated fixed-size field: the bytes before the first NUL
/// (all of them if there is none). Valid UTF-8 is taken as is; anything else
/// is read as Latin-1 (one char per byte), so no input is rejected or lost.
pub(crate) fn field_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..end];
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Text of a fixed-size C string field (units, enum states, DBR_STRING
/// elements). Its last byte is the terminator C peers rely on, so a sender
/// that filled every byte still yields text that fits the field again.
pub(crate) fn fixed_field_text(field: &[u8]) -> String {
    field_text(&field[..field.len().saturating_sub(1)])
}

/// The wire bytes of `text`: the inverse of [`field_text`]. Text that
/// `field_text` read as Latin-1 (every char below U+0100, and those bytes not
/// valid UTF-8) goes back as Latin-1, so a received string re-encodes byte for
/// byte and fits where it came from; all other text goes as UTF-8.
pub(crate) fn text_bytes(text: &str) -> Cow<'_, [u8]> {
    if !text.is_ascii() && text.chars().all(|c| u32::from(c) < 0x100) {
        let latin1: Vec<u8> = text.chars().map(|c| c as u8).collect();
        if std::str::from_utf8(&latin1).is_err() {
            return Cow::Owned(latin1);
        }
    }
    Cow::Borrowed(text.as_bytes())
}

/// Append `text` as a NUL-padded field of `size` bytes. At least one NUL must
/// fit, so the text may be at most `size - 1` bytes (see [`text_bytes`]).
pub(crate) fn put_field_text(
    out: &mut Vec<u8>,
    text: &str,
    size: usize,
    field: &'static str,
) -> Result<(), DbrError> {
    let bytes = text_bytes(text);
    if bytes.len() >= size {
        return Err(DbrError::StringTooLong {
            field,
            len: bytes.len(),
            max: size - 1,
        });
    }
    out.extend_from_slice(&bytes);
    out.resize(out.len() + size - bytes.len(), 0);
    Ok(())
}

/// Append an f64 limit as one element of the numeric native type, using the
/// same saturating conversion as [`Value::convert`](super::Value::convert).
pub(crate) fn put_number_from_f64(out: &mut Vec<u8>, native: NativeType, v: f64) {
    use super::convert::cast;
    match native {
        NativeType::Short => out.extend_from_slice(&cast::f64_to_i16(v).to_be_bytes()),
        NativeType::Enum => out.extend_from_slice(&cast::f64_to_u16(v).to_be_bytes()),
        NativeType::Float => out.extend_from_slice(&cast::f64_to_f32(v).to_be_bytes()),
        NativeType::Char => out.push(cast::f64_to_u8(v)),
        NativeType::Long => out.extend_from_slice(&cast::f64_to_i32(v).to_be_bytes()),
        NativeType::Double => out.extend_from_slice(&v.to_be_bytes()),
        NativeType::String => {}
    }
}
