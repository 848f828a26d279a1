//! Shared harness for integration tests (`mod common;` in a test file).
//!
//! - [`CaEnv`]: loopback-only CA environment with per-test ports; builds
//!   commands for EPICS base, caproto and our own binaries.
//! - [`peers`]: where `scripts/install-peers.sh` put EPICS base and caproto;
//!   a missing peer prints `SKIPPED` (or panics when `CI` is set).
//! - [`ChildGuard`] / [`run_with_timeout`]: processes that are killed by handle
//!   and never hang a test.
//! - [`netns`]: simulated hosts (network namespaces and veth pairs) for
//!   broadcast and interface tests with EPICS defaults.
//! - [`servers`]: softIoc with `tests/fixtures/ioc.db`, caproto example IOCs,
//!   [`wait_for_pv`].
//!
//! - [`collector::Collector`]: syslog-ng in the foreground on loopback ports, for the
//!   log shipping tests.
//! - [`inproc`]: loopback-only configurations for in-process servers and clients.
//! - [`capture::Capture`]: a tracing layer that keeps every event, for tests of
//!   what is logged.
//!
//! Not every test uses every helper, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod capture;
pub mod collector;
pub mod env;
pub mod inproc;
pub mod netns;
pub mod peers;
pub mod ports;
pub mod process;
pub mod raw;
pub mod servers;
pub mod tcpdump;
pub mod tempdir;

pub use env::{loopback_env, CaEnv};
pub use peers::{caproto_bin, caproto_python, epics_bin, epics_command};
pub use process::{run_with_timeout, ChildGuard, RunOutput};
pub use servers::{
    caproto_example, ioc_db, softioc_fixture, start_softioc, wait_for_pv, wait_for_server,
};
pub use tempdir::TempDir;
