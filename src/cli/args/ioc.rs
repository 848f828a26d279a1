//! Command line of `caproto-ioc`.

use std::net::Ipv4Addr;

use clap::Parser;

use super::LogArgs;

/// Serve an example IOC over Channel Access.
#[derive(Parser, Debug)]
#[command(name = "caproto-ioc", version, about)]
pub struct IocArgs {
    /// Which example to run (see --list)
    #[arg(required_unless_present = "list")]
    pub example: Option<String>,

    /// List the available examples and exit
    #[arg(long)]
    pub list: bool,

    /// PV name prefix (default: the example's own, e.g. "simple:")
    #[arg(long)]
    pub prefix: Option<String>,

    /// Print the served PV names once the server is listening
    #[arg(long = "list-pvs")]
    pub list_pvs: bool,

    /// Interfaces to serve on (overrides EPICS_CAS_INTF_ADDR_LIST)
    #[arg(long, value_name = "ADDR", num_args = 1..)]
    pub interfaces: Vec<Ipv4Addr>,

    /// TCP/UDP port (overrides EPICS_CAS_SERVER_PORT)
    #[arg(long)]
    pub port: Option<u16>,

    /// Update rate in Hz for fast-updating examples (ticker)
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,

    #[command(flatten)]
    pub log: LogArgs,
}
