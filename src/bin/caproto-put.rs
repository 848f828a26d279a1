//! `caproto-put`: write a value to a PV and show it before and after (see `caproto::cli::run_put`).

use std::process::ExitCode;

use caproto::cli::put_args::PutArgs;
use caproto::cli::run_put::run_put;
use caproto::cli::tool_main::run_once;

fn main() -> ExitCode {
    run_once("caproto-put", |a: &PutArgs| (&a.log, &a.channel), run_put)
}
