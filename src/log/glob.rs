//! Shell-style wildcard matching (`*` = any run of characters, `?` = exactly one character) on
//! borrowed strings, without allocating per match.

/// A compiled PV name pattern. Exact names skip the wildcard matcher entirely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    has_wildcards: bool,
}

impl Glob {
    /// Compiles `pattern`; `*` and `?` are wildcards, every other character matches itself
    /// (case-sensitively, like `fnmatch` on POSIX).
    pub fn new(pattern: &str) -> Self {
        Glob {
            pattern: pattern.to_owned(),
            has_wildcards: pattern.contains(['*', '?']),
        }
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        if !self.has_wildcards {
            return self.pattern == text;
        }
        wildcard_match(self.pattern.as_bytes(), text)
    }
}

/// Classic greedy matcher with one backtrack point (the last `*`): linear in practice, no
/// recursion, no allocation. The pattern is walked by bytes (wildcards are ASCII), the text by
/// characters so that `?` consumes one whole UTF-8 character.
fn wildcard_match(pattern: &[u8], text: &str) -> bool {
    let t = text.as_bytes();
    let (mut p, mut i) = (0usize, 0usize);
    // (pattern index after the star, text index the star currently stops at)
    let mut star: Option<(usize, usize)> = None;
    while i < t.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p + 1, i));
            p += 1;
        } else if p < pattern.len() && pattern[p] == b'?' {
            p += 1;
            i += char_len(t[i]);
        } else if p < pattern.len() && pattern[p] == t[i] {
            p += 1;
            i += 1;
        } else if let Some((sp, si)) = star {
            // Let the star swallow one more character and retry.
            let next = si + char_len(t[si]);
            star = Some((sp, next));
            p = sp;
            i = next;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Length of the UTF-8 sequence starting with `lead` (1 for ASCII and for stray bytes).
fn char_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).matches(t)
    }

    #[test]
    fn exact_names() {
        assert!(m("simple:A", "simple:A"));
        assert!(!m("simple:A", "simple:AB"));
        assert!(!m("simple:A", "Simple:A"));
    }

    #[test]
    fn star() {
        assert!(m("random_walk:*", "random_walk:x"));
        assert!(m("random_walk:*", "random_walk:"));
        assert!(!m("random_walk:*", "random_walk"));
        assert!(m("*:ai", "test:ai"));
        assert!(m("a*b*c", "aXXbYYbZc"));
        assert!(!m("a*b*c", "aXXbYYbZ"));
        assert!(m("*", ""));
        assert!(m("**x", "yyx"));
    }

    #[test]
    fn question_mark() {
        assert!(m("sim?le:A", "simple:A"));
        assert!(!m("sim?le:A", "simle:A"));
        assert!(m("é?", "éü"));
        assert!(m("?", "ü"));
        assert!(!m("??", "ü"));
        assert!(m("a?*", "ab"));
        assert!(!m("a?*", "a"));
    }
}
