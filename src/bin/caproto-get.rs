//! `caproto-get`: read the value of one or more PVs (see `caproto::cli::run_get`).

use std::process::ExitCode;

use caproto::cli::get_args::GetArgs;
use caproto::cli::run_get::run_get;
use caproto::cli::tool_main::run_once;

fn main() -> ExitCode {
    run_once("caproto-get", |a: &GetArgs| (&a.log, &a.channel), run_get)
}
