//! EPICS Channel Access (CA) in Rust.
//!
//! The crate is layered so that data flows one way: bytes -> [`proto`] (a sans-I/O
//! protocol core that never touches sockets or clocks) -> [`client`] / [`server`]
//! (thin tokio shells) -> the command-line tools in `src/bin`. Logging follows
//! caproto's handler model and lives in [`log`]; the clap arguments and value
//! formatting shared by the tools live in [`cli`].

pub mod capture;
pub mod cli;
pub mod client;
pub mod ioc_examples;
pub mod log;
pub mod proto;
mod rng;
pub mod server;
