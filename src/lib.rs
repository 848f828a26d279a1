//! EPICS Channel Access (CA) in Rust.
//!
//! The crate is layered so that data flows one way: bytes -> [`proto`] (a sans-I/O
//! protocol core that never touches sockets or clocks) -> [`client`] / [`server`]
//! (thin tokio shells) -> the command-line tools in `src/bin`. Captured traffic takes
//! a parallel path: capture bytes -> [`capture`] (sans-I/O: pcap/pcapng, TCP
//! reassembly, names) -> the same per-command records, printed by `caproto-shark`.
//! Logging follows caproto's handler model and lives in [`log`]. Interface discovery and
//! the address lists derived from it (searches, beacons) live in [`net`]. Access
//! security (EPICS ACF files: text in, typed rules out, rights per user, host
//! and group) is [`server::access`], sans-I/O apart from reading the file.
//!
//! # First steps
//!
//! The examples below are compiled and run by `cargo test --doc`. They keep every
//! packet on loopback: the server binds 127.0.0.1 on a port the OS picks and
//! sends no beacons, and the client searches only that address. A real program
//! reads its network set-up from the `EPICS_CA_*` variables instead, with
//! [`client::Config::from_env`] and [`server::ServerConfig::from_env`].
//!
//! ## Serve PVs
//!
//! Build [`server::Pv`]s, group them under a prefix, bind, run. A
//! [`server::PvHandle`] posts new values to every subscriber.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut group = PvGroup::new("demo:");
//! let temperature = group.add(Pv::new("temperature", 21.5).units("degC").precision(1));
//! group.add(Pv::new("setpoint", 20.0));
//! let mut db = PvDatabase::new();
//! db.add_group(group)?;
//!
//! let config = ServerConfig {
//!     interfaces: vec![Ipv4Addr::LOCALHOST],
//!     port: 0, // any free port; Server::tcp_port says which
//!     beacon_addrs: Vec::new(),
//!     ..ServerConfig::default()
//! };
//! let server = Server::bind(db, config).await?;
//! println!("serving on port {}", server.tcp_port());
//! temperature.post(22.0)?; // subscribers see it
//! tokio::spawn(server.run()); // or server.run().await in an IOC's main
//! # Ok(())
//! # }
//! ```
//!
//! ## Read, write and monitor a PV
//!
//! A [`client::Context`] searches, opens circuits and reconnects; a
//! [`client::Channel`] reads, writes and subscribes.
//!
//! ```
//! # use std::net::{Ipv4Addr, SocketAddr};
//! # use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};
//! use std::time::Duration;
//! use caproto::client::{Config, Context};
//! use caproto::proto::command::mask;
//! use caproto::proto::dbr::{DbrClass, DbrType, NativeType, Value};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut group = PvGroup::new("demo:");
//! # let temperature = group.add(Pv::new("temperature", 21.5).units("degC"));
//! # let mut db = PvDatabase::new();
//! # db.add_group(group)?;
//! # let server = Server::bind(db, ServerConfig {
//! #     interfaces: vec![Ipv4Addr::LOCALHOST], port: 0, beacon_addrs: Vec::new(),
//! #     ..ServerConfig::default()
//! # }).await?;
//! # let port = server.tcp_port();
//! # tokio::spawn(server.run());
//! // Search one server directly; Config::from_env() reads EPICS_CA_ADDR_LIST & co.
//! let config = Config {
//!     search_addrs: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))],
//!     use_repeater: false,
//!     ..Config::default()
//! };
//! let ctx = Context::new(config)?;
//! let pv = ctx.connect_one("demo:temperature", Duration::from_secs(2)).await?;
//!
//! // Read: the value with its alarm status and timestamp (DBR_TIME_DOUBLE).
//! let reading = pv.get_class(DbrClass::Time, None).await?;
//! assert_eq!(reading.value, Value::Double(vec![21.5]));
//!
//! // Monitor: the first update is the current value, then one per change.
//! let mut updates = pv.subscribe(DbrType::plain(NativeType::Double), None, mask::VALUE);
//! let first = updates.recv().await.expect("subscription open")?;
//! assert_eq!(first.value, Value::Double(vec![21.5]));
//! temperature.post(23.0)?; // (the server side of this example)
//! let next = updates.recv().await.expect("subscription open")?;
//! assert_eq!(next.value, Value::Double(vec![23.0]));
//!
//! // Write, waiting for the server to confirm (WRITE_NOTIFY).
//! pv.put(&Value::Double(vec![19.0]), true).await?;
//! ctx.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## See every CA command: the per-command records
//!
//! Every command sent or received is one `tracing` record at DEBUG with the PV, both
//! addresses, the direction and the role. Install a handler to see them, the way
//! `-vv` does in the tools; [`log`] has the filters (by PV, address, role) and more
//! handlers (a file, JSON lines).
//!
//! ```
//! use caproto::log::{self, LogConfig, PvFilter};
//! use tracing::level_filters::LevelFilter;
//!
//! // DEBUG on standard error, only records about demo:* PVs (warnings always pass).
//! let handler = log::config_logging(LogConfig::terminal().level(LevelFilter::DEBUG))?;
//! handler.add_filter(PvFilter::new(["demo:*"])?)?;
//! # Ok::<(), caproto::log::LogError>(())
//! ```
//!
//! `caproto::client` and `caproto::server` then log through it; the text line is
//! caproto's:
//! `[D 03:50:28.086      circuit:  177] 127.0.0.1:51782 --->>> 127.0.0.1:5064 16B demo:temperature VersionRequest(priority=0, version=13)`.

pub mod capture;
// `cli` and `ioc_examples` are public only because the binaries in src/bin (separate crates)
// and the integration tests call them; `metrics` because `server::Server::metrics` and the
// tools hand out its types. None of the three is API (docs/api.md): hidden from the docs.
#[doc(hidden)]
pub mod cli;
pub mod client;
#[doc(hidden)]
pub mod ioc_examples;
pub mod log;
#[doc(hidden)]
pub mod metrics;
pub mod net;
pub mod proto;
mod rng;
pub mod server;
mod sync;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
