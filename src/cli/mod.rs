//! Shared pieces of the command-line tools: clap argument definitions (so
//! completions, man pages and tests see the same definitions the binaries
//! use), output formatting that reproduces caproto's tools, and the
//! per-tool run functions the thin `src/bin` mains call.

pub mod dtype;
pub mod eca;
pub mod format;
pub mod npfmt;
pub mod numfmt;
pub mod template;
pub mod timefmt;
