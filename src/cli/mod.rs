//! Shared pieces of the command-line tools, split by job:
//!
//! - [`args`]: clap argument definitions and argument-value parsers (what
//!   was typed);
//! - [`output`]: value and line formatting that reproduces caproto's and
//!   EPICS's tools (what gets printed);
//! - [`tools`]: each tool's run loop and the shared `main` the thin
//!   `src/bin` mains call (what gets done);
//! - [`docs`]: shell completions and man pages generated from [`args`].
//!
//! Not part of the library's API: the binaries in `src/bin` are its only
//! users, so it is hidden from the documentation and may change in any
//! release.

pub mod args;
pub mod docs;
pub mod output;
pub mod tools;
