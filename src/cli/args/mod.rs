//! What the user typed: the clap definitions of every binary (so completions,
//! man pages and tests see the same definitions the binaries use) and the
//! parsers of argument values (`-d` types, caproto-put's DATA, caget's
//! two-letter flags). Nothing here does I/O; [`super::tools`] turns these
//! into actions.

pub mod argv;
pub mod common;
pub mod dtype;
pub mod get;
pub mod info;
pub mod ioc;
mod log;
pub mod log_ship;
pub mod monitor;
pub mod names;
pub mod put;
pub mod put_value;
pub mod repeater;
pub mod shark;

/// The shared logging flags, flattened into every tool's arguments.
pub use log::LogArgs;
