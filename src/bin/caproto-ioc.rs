//! `caproto-ioc`: run one of the example IOCs from [`caproto::ioc_examples`].

use std::process::ExitCode;

use clap::Parser;

use caproto::cli::args::ioc::IocArgs;
use caproto::ioc_examples::{self, ExampleOptions};
use caproto::server::{PvDatabase, Server, ServerConfig};

fn main() -> ExitCode {
    let cli = IocArgs::parse();
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
