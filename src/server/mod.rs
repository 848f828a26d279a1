//! The async (tokio) Channel Access server and its PV-hosting API.
//!
//! Build PVs with [`Pv`], put them in a [`PvGroup`] (a name prefix plus
//! startup tasks), collect groups in a [`PvDatabase`], then
//! [`Server::bind`] with a [`ServerConfig`] (usually [`ServerConfig::from_env`])
//! and [`Server::run`]. Keep [`PvHandle`]s to post new values: each post fans
//! out to every subscriber through bounded per-subscriber queues.
//!
//! Access security: give PVs a group with [`Pv::access_group`], load an ACF
//! file into [`Server::access`] ([`access::AccessControl::load`]); see [`access`].
//!
//! EPICS database files: [`db`] reads them (records, fields, macros).

pub mod access;
mod beacon;
// Public only because the benchmarks in benches/ (separate crates) drive the request path
// through it; hidden because it is not part of the API.
#[doc(hidden)]
pub mod bench_hooks;
mod bind;
mod circuit_task;
mod circuit_threads;
mod config;
pub mod db;
mod dynamic;
mod error;
pub mod log_control;
mod pv;
mod realtime;
mod search_thread;
#[allow(clippy::module_inception)]
mod server;
pub mod stats;
mod subscription;
mod udp;

pub use config::ServerConfig;
pub use dynamic::DynamicPvs;
pub use error::{PutError, ServerError};
pub use pv::{
    BoxFuture, IntoValue, PutResult, Pv, PvDatabase, PvGroup, PvHandle, PvSnapshot, ValueExt,
};
pub use server::{termination, Server};
pub use subscription::QUEUE_DEPTH;
