//! `caproto-shark`: decode Channel Access traffic from a packet capture into the same
//! per-command records the tools log (see `caproto::cli::tools::shark`).

use std::process::ExitCode;

use caproto::cli::args::shark::SharkArgs;
use caproto::cli::tools::shark::run_shark;
use clap::Parser;

fn main() -> ExitCode {
    match SharkArgs::try_parse() {
        Ok(args) => run_shark(&args),
        Err(e) => {
            let _ = e.print();
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
        }
    }
}
