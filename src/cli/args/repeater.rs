//! Command line of `caproto-repeater`.

use clap::Parser;

use crate::cli::args::LogArgs;

/// Run a Channel Access repeater.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "caproto-repeater",
    version,
    about = "Run a Channel Access repeater.",
    long_about = "Run a Channel Access repeater: it listens on EPICS_CA_REPEATER_PORT (default \
                  5065), registers local clients and forwards server beacons and other datagrams \
                  to each of them. If the port is already in use another repeater is assumed to \
                  be running and the program exits successfully."
)]
pub struct RepeaterArgs {
    /// Address to bind, e.g. 127.0.0.1 to serve only this host. Default: the single
    /// address in EPICS_CAS_INTF_ADDR_LIST if it names one, else 0.0.0.0.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::Ipv4Addr>,
    #[command(flatten)]
    pub log: LogArgs,
}
