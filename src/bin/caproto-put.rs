//! `caproto-put`: write a value to a PV and show it before and after (see `caproto::cli::run_put`).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use caproto::cli::put_args::PutArgs;
use caproto::cli::run_put::run_put;
use caproto::cli::tool_main::{parse, run_tool};

fn main() -> ExitCode {
    let args: PutArgs = match parse(std::env::args_os()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let args = &args;
    run_tool(
        "caproto-put",
        &args.log,
        &args.channel,
        false,
        |backend, _| async move {
            let mut out = BufWriter::new(std::io::stdout().lock());
            let mut err = std::io::stderr().lock();
            let status = run_put(args, &backend, &mut out, &mut err).await;
            let _ = out.flush();
            status
        },
    )
}
