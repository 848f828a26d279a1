//! `caproto-get`: read the value of one or more PVs (see `caproto::cli::tools::get`).

use std::process::ExitCode;

use caproto::cli::args::get::GetArgs;
use caproto::cli::tools::get::run_get;
use caproto::cli::tools::tool_main::{parse_names, run_once};

fn main() -> ExitCode {
    run_once(
        "caproto-get",
        parse_names,
        |a: &GetArgs| (&a.log, &a.channel),
        run_get,
    )
}
