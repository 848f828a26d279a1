//! Shared pieces of the command-line tools: clap argument definitions (so
//! completions, man pages and tests see the same definitions the binaries
//! use), output formatting that reproduces caproto's tools, and the
//! per-tool run functions the thin `src/bin` mains call.

pub mod argv;
pub mod backend;
pub mod client_backend;
pub mod common_args;
pub mod docs;
pub mod dtype;
pub mod eca;
pub mod format;
pub mod get_args;
mod gfmt;
mod log_args;
pub mod monitor_args;
pub mod npfmt;
pub mod numfmt;
pub mod put_args;
pub mod put_value;
pub mod repeater;
pub mod repeater_args;
pub mod run_get;
pub mod run_monitor;
pub mod run_put;
pub mod run_shark;
pub mod shark_args;
pub mod signals;
pub mod spawn_repeater;
pub mod template;
pub mod timefmt;
pub mod tool_main;

/// The shared logging flags, flattened into every tool's arguments.
pub use log_args::LogArgs;
