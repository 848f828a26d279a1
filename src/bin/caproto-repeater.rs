//! `caproto-repeater`: run a Channel Access repeater (see `caproto::cli::tools::repeater`).

use std::process::ExitCode;
use std::sync::Arc;

use caproto::cli::args::repeater::RepeaterArgs;
use caproto::cli::tools::repeater::{listen_addr, serve, RepeaterStats};
use clap::Parser;

fn main() -> ExitCode {
    let args = RepeaterArgs::parse();
    let _log = match args.log.init() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("caproto-repeater: error: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = match listen_addr(args.bind, |k| std::env::var(k).ok()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("caproto-repeater: error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("caproto-repeater: error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let socket = match tokio::net::UdpSocket::bind(addr).await {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tracing::info!(target: "caproto::repeater", "Another repeater is already running on {addr}; exiting.");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("caproto-repeater: error: cannot bind {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(target: "caproto::repeater", "Repeater is listening on {addr}");
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!(target: "caproto::repeater", "Keyboard interrupt; exiting.");
        };
        serve(socket, Arc::new(RepeaterStats::default()), stop).await;
        ExitCode::SUCCESS
    })
}
