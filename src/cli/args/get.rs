//! Command line of `caproto-get` (caproto's flags, plus caget's where caproto has none).

use clap::Parser;

use crate::cli::args::common::{output_mode, ChannelArgs, ValueFormatArgs};
use crate::cli::args::dtype::TypeRequest;
use crate::cli::args::LogArgs;
use crate::cli::output::format::Mode;

/// Read the value of one or more PVs.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "caproto-get",
    version,
    about = "Read the value of a PV.",
    after_help = "Exit status: 0 when every PV was read, 1 when any could not be (not found, \
                  timed out, refused), 2 for bad arguments.",
    group(clap::ArgGroup::new("mode").args(["terse", "wide", "data_type"]))
)]
pub struct GetArgs {
    /// PV (channel) names, separated by spaces.
    #[arg(value_name = "PV_NAME", required_unless_present = "list_types")]
    pub pv_names: Vec<String>,
    /// Python-style format string. Tokens: {pv_name}, {response} (and attributes such as
    /// {response.data}, {response.status.name}, {response.metadata.units}), and for
    /// time types {timestamp}, also with a strftime pattern: {timestamp:%Y-%m-%d %H:%M:%S}.
    /// Takes precedence over --terse and --wide.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub channel: ChannelArgs,
    /// Accepted for compatibility with caget; has no effect (reads always wait for completion).
    #[arg(long, short = 'c')]
    pub notify: bool,
    /// Display data only. Unpack scalars: [3.] -> 3.
    #[arg(long, short = 't')]
    pub terse: bool,
    /// Wide mode, showing 'name timestamp value status' (implies -d time).
    #[arg(long, short = 'a', short_alias = 'l')]
    pub wide: bool,
    /// Request a class of data type (native, status, time, graphic, control) or a specific
    /// type by number ('3') or case-insensitive name ('enum', 'DBR_TIME_DOUBLE'). See --list-types.
    #[arg(short = 'd', value_name = "DATA_TYPE")]
    pub data_type: Option<TypeRequest>,
    /// List the values -d accepts and exit.
    #[arg(long)]
    pub list_types: bool,
    #[command(flatten)]
    pub values: ValueFormatArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl GetArgs {
    /// The output mode: --format beats --terse, which beats --wide.
    pub fn mode(&self) -> Mode {
        output_mode(self.format.as_deref(), self.terse, self.wide)
    }

    /// The data type to request: --wide means TIME; otherwise -d, if given.
    pub fn type_request(&self) -> Option<TypeRequest> {
        if self.wide {
            Some(TypeRequest::Class(crate::proto::dbr::DbrClass::Time))
        } else {
            self.data_type
        }
    }
}
