//! `caproto-ioc`: run one of the example IOCs from [`caproto::ioc_examples`].

use std::net::Ipv4Addr;
use std::process::ExitCode;

use clap::Parser;

use caproto::cli::LogArgs;
use caproto::ioc_examples::{self, ExampleOptions};
use caproto::server::{PvDatabase, Server, ServerConfig};

/// Serve an example IOC over Channel Access.
#[derive(Parser, Debug)]
#[command(name = "caproto-ioc", version, about)]
struct Cli {
    /// Which example to run (see --list)
    #[arg(required_unless_present = "list")]
    example: Option<String>,

    /// List the available examples and exit
    #[arg(long)]
    list: bool,

    /// PV name prefix (default: the example's own, e.g. "simple:")
    #[arg(long)]
    prefix: Option<String>,

    /// Print the served PV names once the server is listening
    #[arg(long = "list-pvs")]
    list_pvs: bool,

    /// Interfaces to serve on (overrides EPICS_CAS_INTF_ADDR_LIST)
    #[arg(long, value_name = "ADDR", num_args = 1..)]
    interfaces: Vec<Ipv4Addr>,

    /// TCP/UDP port (overrides EPICS_CAS_SERVER_PORT)
    #[arg(long)]
    port: Option<u16>,

    /// Update rate in Hz for fast-updating examples (ticker)
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,

    #[command(flatten)]
    log: LogArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list {
        for ex in ioc_examples::EXAMPLES {
            println!("{:<16} {}", ex.name, ex.summary);
        }
        return ExitCode::SUCCESS;
    }
    let _guard = match cli.log.init() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::from(2);
        }
    };
    let name = cli.example.as_deref().unwrap_or_default();
    let Some(example) = ioc_examples::find(name) else {
        eprintln!("caproto-ioc: unknown example {name:?}; try --list");
        return ExitCode::from(2);
    };
    let mut config = match ServerConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::from(2);
        }
    };
    if !cli.interfaces.is_empty() {
        config.interfaces = cli.interfaces.clone();
    }
    if let Some(port) = cli.port {
        config.port = port;
    }
    let prefix = cli.prefix.as_deref().unwrap_or(example.default_prefix);
    let options = ExampleOptions { rate: cli.rate };
    let mut db = PvDatabase::new();
    if let Err(e) = db.add_group((example.build)(prefix, &options)) {
        eprintln!("caproto-ioc: {e}");
        return ExitCode::FAILURE;
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("caproto-ioc: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let server = Server::bind(db, config).await?;
        if cli.list_pvs {
            println!("PVs:");
            for name in server.database().names() {
                println!("    {name}");
            }
        }
        server.run().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("caproto-ioc: {e}");
            ExitCode::FAILURE
        }
    }
}
