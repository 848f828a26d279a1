//! Stand-in for `caproto::cli::log_args::LogArgs`, which the logging work
//! provides. It declares the same flags so that the tools' command lines,
//! completions and man pages are already final; it is swapped for the real
//! one (a one-line change in `cli/mod.rs`) when that lands.

use std::path::PathBuf;

use clap::{ArgAction, Args};

/// The logging flags every tool shares.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// Show more log messages (-v: channel and context records; -vvv: every command sent and received).
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
    /// Show only warnings and errors.
    #[arg(short = 'q', long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Write log records to this file instead of standard error.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Only log records about PVs matching this glob (repeatable; * is a wildcard).
    #[arg(long, value_name = "GLOB")]
    pub log_pv: Vec<String>,
    /// Only log records about this host or host:port (repeatable).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub log_addr: Vec<String>,
    /// Only log records of this role.
    #[arg(long, value_name = "ROLE", value_parser = ["client", "server"])]
    pub log_role: Option<String>,
    /// Log line format.
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
    /// Suppress ANSI colour codes in log messages.
    #[arg(long)]
    pub no_color: bool,
}

impl LogArgs {
    /// Install a minimal stderr subscriber honouring -v/-q until the logging
    /// module's configuration replaces this.
    pub fn install(&self) {
        use tracing_subscriber::filter::{LevelFilter, Targets};
        use tracing_subscriber::prelude::*;
        let targets = match (self.quiet, self.verbose) {
            (true, _) => Targets::new().with_default(LevelFilter::WARN),
            (false, 0) => Targets::new().with_default(LevelFilter::WARN),
            (false, 1 | 2) => Targets::new()
                .with_default(LevelFilter::WARN)
                .with_target("caproto::ch", LevelFilter::DEBUG)
                .with_target("caproto::ctx", LevelFilter::DEBUG),
            (false, _) => Targets::new().with_default(LevelFilter::DEBUG),
        };
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(!self.no_color)
            .with_filter(targets);
        let _ = tracing_subscriber::registry().with(layer).try_init();
    }
}
