//! The one shape of a configuration error, shared by the client and the
//! server: an environment variable whose value cannot be used.

use std::fmt;

/// An environment variable (`EPICS_CA_*`, `EPICS_CAS_*`) whose value cannot
/// be used: which variable, what it held, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The variable, e.g. `EPICS_CA_SERVER_PORT`.
    pub var: &'static str,
    /// Its offending value (the whole value, or the list entry at fault).
    pub value: String,
    /// What was wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// The variable `var` held `value`, refused for `reason`.
    pub fn new(var: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            var,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.var, self.value, self.reason)
    }
}

impl std::error::Error for ConfigError {}
