//! See shared/ARCHITECTURE.md; filled in by its own issue.

mod log_args;
pub use log_args::LogArgs;
