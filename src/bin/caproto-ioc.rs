//! `caproto-ioc`: run one of the example IOCs from [`caproto::ioc_examples`],
//! or the on-demand `defaultdict` (see `caproto::cli::tools::ioc`).

use std::process::ExitCode;

use clap::Parser;

use caproto::cli::args::ioc::IocArgs;
use caproto::cli::tools::ioc::ioc_main;

fn main() -> ExitCode {
    ioc_main(IocArgs::parse())
}
