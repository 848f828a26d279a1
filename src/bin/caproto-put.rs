//! `caproto-put`: write a value to a PV and show it before and after (see `caproto::cli::tools::put`).

use std::process::ExitCode;

use caproto::cli::args::put::PutArgs;
use caproto::cli::tools::put::run_put;
use caproto::cli::tools::tool_main::{parse, run_once};

fn main() -> ExitCode {
    run_once(
        "caproto-put",
        parse,
        |a: &PutArgs| (&a.log, &a.channel),
        run_put,
    )
}
