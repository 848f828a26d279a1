//! A filter on the record's target, so one handler can take one kind of
//! record: e.g. a file of put logs (`caproto::putlog`) apart from the
//! protocol traffic.

use tracing::level_filters::LevelFilter;

use super::filter::Gate;

/// Passes records whose target is one of several targets or lies below one
/// (`caproto::bcast` covers `caproto::bcast::search`). Every record has a
/// target, so `exclusive` changes nothing; the barrier still lets records
/// at or above it through (set it to `OFF` for a handler that must hold
/// nothing else).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetFilter {
    targets: Vec<String>,
    pub(super) gate: Gate,
}

impl TargetFilter {
    /// A filter for the given targets, barrier WARN.
    pub fn new<I, S>(targets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        TargetFilter {
            targets: targets.into_iter().map(Into::into).collect(),
            gate: Gate::default(),
        }
    }

    /// Sets the barrier level (records at or above it always pass).
    pub fn level(mut self, barrier: LevelFilter) -> Self {
        self.gate.barrier = barrier;
        self
    }

    /// The targets, as given.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().map(String::as_str)
    }

    /// Whether `target` is one of ours or below one.
    pub fn matches(&self, target: &str) -> bool {
        self.targets.iter().any(|t| {
            target
                .strip_prefix(t.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::access::PUTLOG_TARGET;

    #[test]
    fn targets_and_their_children_match() {
        let f = TargetFilter::new([PUTLOG_TARGET, "caproto::bcast"]);
        assert!(f.matches(PUTLOG_TARGET));
        assert!(f.matches("caproto::bcast::search"));
        assert!(!f.matches("caproto::putlogger"));
        assert!(!f.matches("caproto::circ"));
        assert!(!f.matches("caproto"));
    }
}
