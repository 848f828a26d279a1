//! Command line of `caproto-info` (EPICS's `cainfo`, plus metadata and JSON).

use clap::{Parser, ValueEnum};

use crate::cli::args::common::ChannelArgs;
use crate::cli::args::LogArgs;
use crate::proto::dbr::DbrClass;

/// How caproto-info prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InfoFormat {
    /// cainfo's indented block per PV.
    Cainfo,
    /// One JSON object per PV and line.
    Json,
}

/// Which metadata `-d` adds to the connection facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InfoClass {
    /// Alarm status and severity.
    #[value(alias = "sts")]
    Status,
    /// + units, precision, display and alarm limits, enum strings.
    #[value(alias = "gr")]
    Graphic,
    /// + control limits.
    #[value(alias = "ctrl")]
    Control,
}

impl InfoClass {
    /// The DBR class read for it.
    pub fn dbr_class(self) -> DbrClass {
        match self {
            InfoClass::Status => DbrClass::Sts,
            InfoClass::Graphic => DbrClass::Gr,
            InfoClass::Control => DbrClass::Ctrl,
        }
    }
}

/// Show what a server says about PVs: connection state, server, access
/// rights, native type and element count.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "caproto-info",
    version,
    about = "Show a PV's connection facts (state, host, access, native type, element count), as cainfo does.",
    after_help = "The first -v also prints the control metadata (as -d ctrl); further -v raise the \
                  log verbosity as in the other tools.\n\nExit status: 0 when every PV connected, \
                  1 when any did not (not found, timed out, metadata unreadable), 2 for bad arguments."
)]
pub struct InfoArgs {
    /// PV (channel) names, separated by spaces.
    #[arg(value_name = "PV_NAME", required = true)]
    pub pv_names: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InfoFormat::Cainfo)]
    pub format: InfoFormat,
    /// Also read and print metadata of this class (status, graphic, control; sts, gr, ctrl).
    #[arg(short = 'd', value_name = "CLASS", value_enum)]
    pub data_type: Option<InfoClass>,
    #[command(flatten)]
    pub channel: ChannelArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl InfoArgs {
    /// The metadata class to read: `-d`, else control when `-v` was given.
    pub fn class(&self) -> Option<InfoClass> {
        self.data_type
            .or((self.log.verbose > 0).then_some(InfoClass::Control))
    }

    /// Log arguments with the first `-v` taken by the metadata.
    pub fn log_args(&self) -> LogArgs {
        let mut log = self.log.clone();
        log.verbose = log.verbose.saturating_sub(1);
        log
    }
}
