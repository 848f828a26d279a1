//! A fixed-capacity `fmt::Write` target on the stack, so field values recorded with `%`/`?`
//! can be compared as text without allocating.

use std::fmt;

/// Up to `N` bytes of formatted text; writing more fails with `fmt::Error`.
pub(crate) struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    /// An empty buffer.
    pub fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }

    /// Formats `value` with `Debug` (which for `%`-recorded values is their `Display`).
    /// Returns `None` if the text does not fit.
    pub fn debug_of(value: &dyn fmt::Debug) -> Option<Self> {
        let mut b = Self::new();
        fmt::write(&mut b, format_args!("{value:?}")).ok()?;
        Some(b)
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the prefix is valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::StackBuf;
    use std::net::SocketAddr;

    #[test]
    fn formats_and_overflows() {
        let a: SocketAddr = "127.0.0.1:5064".parse().unwrap();
        let b = StackBuf::<64>::debug_of(&format_args!("{a}")).unwrap();
        assert_eq!(b.as_str(), "127.0.0.1:5064");
        assert!(StackBuf::<4>::debug_of(&"too long").is_none());
    }
}
