//! `caproto-ioc`: run one of the example IOCs from [`caproto::ioc_examples`].

use std::process::ExitCode;

use clap::Parser;

use caproto::cli::args::ioc::IocArgs;
use caproto::ioc_examples::{self, ExampleOptions};
use caproto::server::access::{load_file, putlog_handler};
use caproto::server::log_control::{log_control_group, LogControlInit};
use caproto::server::{HostCheck, PvDatabase, Server, ServerConfig};

fn main() -> ExitCode {
    let cli = IocArgs::parse();
    if cli.list {
        for ex in ioc_examples::EXAMPLES {
            println!("{:<16} {}", ex.name, ex.summary);
        }
        return ExitCode::SUCCESS;
    }
    let guard = match cli.log.init() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::from(2);
        }
    };
    let _putlog = match cli.putlog.as_deref().map(putlog_handler) {
        None => None,
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            eprintln!("caproto-ioc: --putlog: {e}");
            return ExitCode::from(2);
        }
    };
    let name = cli.example.as_deref().unwrap_or_default();
    let Some(example) = ioc_examples::find(name) else {
        eprintln!("caproto-ioc: unknown example {name:?}; try --list");
        return ExitCode::from(2);
    };
    let mut config = match ServerConfig::from_env_with_interfaces(&cli.interfaces) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::from(2);
        }
    };
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
    if let Some(control) = &cli.log_control {
        let handlers = std::iter::once(guard.terminal())
            .chain(guard.file())
            .collect();
        let init = LogControlInit {
            level: cli.log.terminal_level(),
            pv: cli.log.log_pv.clone(),
            addr: cli.log.log_addr.clone(),
            role: cli.log.log_role,
        };
        if let Err(e) = db.add_group(log_control_group(control, handlers, &init)) {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::FAILURE;
        }
    }

    let host_check = if cli.acf_client_ip {
        HostCheck::ClientIp
    } else {
        HostCheck::Name
    };
    let rules = match cli.acf.as_deref().map(|p| load_file(p, host_check)) {
        None => None,
        Some(Ok(rules)) => Some(rules),
        Some(Err(e)) => {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::from(2);
        }
    };

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
        if let (Some(rules), Some(path)) = (rules, cli.acf.clone()) {
            let access = server.access();
            access.set(Some(rules));
            tokio::spawn(access.reload_on_hangup(path, host_check));
        }
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
