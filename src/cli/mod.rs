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
//! The flat module paths of earlier versions (`cli::get_args`,
//! `cli::run_get`, `cli::format`, ...) are kept as re-exports below.

pub mod args;
pub mod docs;
pub mod output;
pub mod tools;

/// The shared logging flags, flattened into every tool's arguments.
pub use args::LogArgs;

// Earlier flat paths, kept so existing `use caproto::cli::...` lines work.
pub use args::{
    argv, common as common_args, dtype, get as get_args, monitor as monitor_args, put as put_args,
    put_value, repeater as repeater_args,
};
pub use output::{eca, format, npfmt, numfmt, template, timefmt};
pub use tools::{
    backend, client_backend, get as run_get, monitor as run_monitor, put as run_put, repeater,
    signals, spawn_repeater, tool_main,
};
