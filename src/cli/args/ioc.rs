//! Command line of `caproto-ioc`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;

use super::LogArgs;
use crate::ioc_examples::defaultdict::DefaultType;

/// Serve an example IOC over Channel Access.
#[derive(Parser, Debug)]
#[command(
    name = "caproto-ioc",
    version,
    about,
    after_help = "`caproto-ioc defaultdict --prefix P` serves any name under P (`--any-name`: any \
                  name at all), making each PV when a client first creates a channel to it \
                  (--type, --count); with --list-pvs the PVs made are printed when it stops \
                  (Ctrl-C, SIGTERM)."
)]
pub struct IocArgs {
    /// Which example to run (see --list), or `defaultdict`; optional with -d
    #[arg(required_unless_present_any = ["list", "db"])]
    pub example: Option<String>,

    /// Serve the records of an EPICS database file, as softIoc -d (repeat for
    /// more files; alone or beside an example; see docs/db.md)
    #[arg(short = 'd', long = "db", value_name = "FILE")]
    pub db: Vec<PathBuf>,

    /// Macro definitions for the -d files, as softIoc -m: NAME=VALUE,NAME2=VALUE2
    #[arg(short = 'm', long = "macros", value_name = "MACROS", requires = "db")]
    pub macros: Vec<String>,

    /// Directory searched for a -d file's `include` files (repeatable; default: .)
    #[arg(
        short = 'I',
        long = "include-path",
        value_name = "DIR",
        requires = "db"
    )]
    pub include_path: Vec<PathBuf>,

    /// List the available examples and exit
    #[arg(long)]
    pub list: bool,

    /// PV name prefix (default: the example's own, e.g. "simple:")
    #[arg(long)]
    pub prefix: Option<String>,

    /// Print the served PV names once the server is listening (defaultdict: the PVs
    /// made, when it stops)
    #[arg(long = "list-pvs")]
    pub list_pvs: bool,

    /// defaultdict: serve every name, not only those under --prefix
    #[arg(long = "any-name", conflicts_with = "prefix")]
    pub any_name: bool,

    /// defaultdict: native type of the PVs it makes
    #[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = DefaultType::Double)]
    pub pv_type: DefaultType,

    /// defaultdict: element count of the PVs it makes
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub count: u32,

    /// Interfaces to serve on (overrides EPICS_CAS_INTF_ADDR_LIST)
    #[arg(long, value_name = "ADDR", num_args = 1..)]
    pub interfaces: Vec<Ipv4Addr>,

    /// TCP/UDP port (overrides EPICS_CAS_SERVER_PORT); 0 binds an ephemeral
    /// TCP port and UDP on the same number (see --port-file)
    #[arg(long)]
    pub port: Option<u16>,

    /// Once every socket is bound, write the TCP port clients connect to
    /// (also the UDP search port when the port is 0), one decimal line, to
    /// FILE; written whole (a temporary file renamed) so a reader never sees
    /// part of it
    #[arg(long = "port-file", value_name = "FILE")]
    pub port_file: Option<PathBuf>,

    /// Threads that run client circuits, each with its own single-threaded
    /// runtime; a new client goes to the one with the fewest (default: one per
    /// CPU core). 0 runs circuits as tasks on the shared multi-threaded runtime
    #[arg(long = "circuit-threads", value_name = "N")]
    pub circuit_threads: Option<usize>,

    /// Real-time (SCHED_FIFO) priority of the circuit threads when the process
    /// may use one (root, CAP_SYS_NICE, RLIMIT_RTPRIO), as an EPICS IOC's CA
    /// server threads have (the search responder's thread gets 8 less);
    /// 0 keeps normal priority
    #[arg(long = "rt-priority", value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u8).range(0..=99))]
    pub rt_priority: u8,

    /// Access security file (EPICS ACF syntax) enforced for every client;
    /// SIGHUP reloads it (a bad file is logged and the old rules stay)
    #[arg(short = 'a', long, value_name = "FILE")]
    pub acf: Option<PathBuf>,

    /// Match the ACF's host access groups (HAG) against the address each
    /// client connects from, not the host name it sends (EPICS
    /// asCheckClientIP); HAG hosts are resolved when the file is loaded
    #[arg(long = "acf-client-ip", requires = "acf")]
    pub acf_client_ip: bool,

    /// Append put-log records (writes that a TRAPWRITE rule granted: user,
    /// host, PV, old and new value) to this file, apart from other logs
    #[arg(long, value_name = "FILE")]
    pub putlog: Option<PathBuf>,

    /// Update rate in Hz for fast-updating examples (ticker)
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,

    /// Serve log-control PVs PREFIX:level, PREFIX:pv, PREFIX:addr and PREFIX:role that change
    /// the terminal and --log-file handlers at run time (see docs/logging.md)
    #[arg(long = "log-control", value_name = "PREFIX")]
    pub log_control: Option<String>,

    /// Serve Prometheus metrics over HTTP at http://ADDR/metrics (e.g.
    /// 127.0.0.1:9464): clients, channels, requests by command, bytes,
    /// searches, beacons, access denials, log shipping, process figures (see
    /// docs/metrics.md); OpenMetrics when the scraper asks for it
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// Serve devIocStats-style health PVs PREFIX:CA_CLNT_CNT, PREFIX:CA_CONN_CNT,
    /// PREFIX:UPTIME, PREFIX:MEM_USED, PREFIX:IOC_CPU_LOAD, PREFIX:FD_CNT, ...
    /// (see docs/metrics.md), updated every second
    #[arg(long = "stats", value_name = "PREFIX")]
    pub stats: Option<String>,

    #[command(flatten)]
    pub log: LogArgs,
}
