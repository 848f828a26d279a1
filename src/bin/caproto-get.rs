//! `caproto-get`: read the value of one or more PVs (see `caproto::cli::run_get`).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use caproto::cli::get_args::GetArgs;
use caproto::cli::run_get::run_get;
use caproto::cli::tool_main::{parse, run_tool};

fn main() -> ExitCode {
    let args: GetArgs = match parse(std::env::args_os()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let args = &args;
    run_tool(
        "caproto-get",
        &args.log,
        &args.channel,
        false,
        |backend, _| async move {
            let mut out = BufWriter::new(std::io::stdout().lock());
            let mut err = std::io::stderr().lock();
            let status = run_get(args, &backend, &mut out, &mut err).await;
            let _ = out.flush();
            status
        },
    )
}
