//! What caproto-ioc does once its arguments are parsed: list the examples,
//! or serve one (or the on-demand `defaultdict`), the records of `-d` database
//! files, or both, until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::args::ioc::IocArgs;
use crate::ioc_examples::{self, defaultdict, ExampleOptions};
use crate::metrics::{LogShipCollector, MetricsRegistry, ProcessCollector, ServerMetrics};
use crate::server::access::HostCheck;
use crate::server::access::{load_file, putlog_handler};
use crate::server::db::{load_files, DbError, DbIoc, Macros, DEFAULT_INCLUDE_PATH};
use crate::server::log_control::{log_control_group, LogControlInit};
use crate::server::{PvDatabase, Server, ServerConfig};

/// The name that selects the on-demand server.
pub const DEFAULTDICT: &str = "defaultdict";

/// Parse and check every -d file with the -m macros, as softIoc's
/// `dbLoadRecords` then `iocInit` would: the first fault refuses them all.
fn load_databases(cli: &IocArgs) -> Result<DbIoc, DbError> {
    let mut macros = Macros::new();
    for list in &cli.macros {
        macros.add_list(list).map_err(|kind| DbError {
            file: "-m".into(),
            line: 0,
            kind,
        })?;
    }
    let include_path: Vec<PathBuf> = if cli.include_path.is_empty() {
        DEFAULT_INCLUDE_PATH.iter().map(PathBuf::from).collect()
    } else {
        cli.include_path.clone()
    };
    let database = load_files(&cli.db, &macros, &include_path)?;
    DbIoc::new(&database)
}

/// `caproto-ioc`'s whole `main` after parsing.
pub fn ioc_main(cli: IocArgs) -> ExitCode {
    if cli.list {
        for ex in ioc_examples::EXAMPLES {
            println!("{:<16} {}", ex.name, ex.summary);
        }
        println!(
            "{DEFAULTDICT:<16} any name under --prefix (or --any-name), made on first use (--type, --count)"
        );
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
    let mut db = PvDatabase::new();
    if !cli.db.is_empty() {
        if cli.example.as_deref() == Some(DEFAULTDICT) {
            eprintln!("caproto-ioc: -d cannot be combined with defaultdict");
            return ExitCode::from(2);
        }
        match load_databases(&cli) {
            Ok(records) => {
                for w in records.warnings() {
                    eprintln!("caproto-ioc: warning: {w}");
                }
                if let Err(e) = records.install(&mut db) {
                    eprintln!("caproto-ioc: {e}");
                    return ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("caproto-ioc: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let name = cli.example.as_deref().unwrap_or_default();
    let mut dynamic = None;
    if name == DEFAULTDICT {
        if cli.prefix.is_none() && !cli.any_name {
            eprintln!(
                "caproto-ioc: defaultdict needs --prefix P (names under P) or --any-name (every name)"
            );
            return ExitCode::from(2);
        }
        let d = defaultdict::dynamic(cli.prefix.clone(), cli.pv_type, cli.count as usize);
        db.set_dynamic(d.clone());
        dynamic = Some(d);
    } else if cli.example.is_some() {
        let Some(example) = ioc_examples::find(name) else {
            eprintln!("caproto-ioc: unknown example {name:?}; try --list");
            return ExitCode::from(2);
        };
        let prefix = cli.prefix.as_deref().unwrap_or(example.default_prefix);
        let options = ExampleOptions { rate: cli.rate };
        if let Err(e) = db.add_group((example.build)(prefix, &options)) {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::FAILURE;
        }
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
    let metrics = Arc::new(ServerMetrics::new());
    if let Some(prefix) = &cli.stats {
        let records = db.len();
        let group = crate::server::stats::stats_group(prefix, Arc::clone(&metrics), records);
        if let Err(e) = db.add_group(group) {
            eprintln!("caproto-ioc: {e}");
            return ExitCode::FAILURE;
        }
    }
    let metrics_registry = cli.metrics.map(|addr| {
        let mut registry = MetricsRegistry::new();
        registry.add(Arc::clone(&metrics));
        registry.add(ProcessCollector);
        registry.add(LogShipCollector::new(guard.ships().to_vec()));
        (addr, Arc::new(registry))
    });
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
    if let Some(threads) = cli.circuit_threads {
        config.circuit_threads = threads;
    }
    config.circuit_rt_priority = (cli.rt_priority > 0).then_some(cli.rt_priority);
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
    let list_pvs = cli.list_pvs;
    let list_at_start = list_pvs && dynamic.is_none();
    let acf_path = cli.acf.clone();
    let port_file = cli.port_file.clone();
    let result = runtime.block_on(async move {
        if let Some((addr, registry)) = metrics_registry {
            let listener = crate::metrics::bind(addr).await?;
            if let Ok(at) = listener.local_addr() {
                tracing::info!(target: "caproto::metrics", "metrics on http://{at}/metrics");
            }
            tokio::spawn(crate::metrics::serve(listener, registry));
        }
        let server = Server::bind_with_metrics(db, config, metrics).await?;
        if let Some(path) = &port_file {
            write_port_file(path, server.tcp_port())
                .map_err(|e| format!("cannot write --port-file {}: {e}", path.display()))?;
        }
        if let (Some(rules), Some(path)) = (rules, acf_path) {
            let access = server.access();
            access.set(Some(rules));
            tokio::spawn(access.reload_on_hangup(path, host_check));
        }
        if list_at_start {
            println!("PVs:");
            for name in server.database().names() {
                println!("    {name}");
            }
        }
        server.run().await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    if let (true, Some(d)) = (list_pvs, &dynamic) {
        println!("PVs:");
        for name in d.created_names() {
            println!("    {name}");
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("caproto-ioc: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `port` and a newline to `path` through a temporary file in the
/// same folder renamed over it, so a reader polling for the file never
/// reads it half-written.
fn write_port_file(path: &std::path::Path, port: u16) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path)
}
