//! Command line of `caproto-put`.

use std::path::PathBuf;

use clap::Parser;

use crate::cli::args::common::{output_mode, ChannelArgs};
use crate::cli::args::LogArgs;
use crate::cli::output::format::Mode;

/// Write a value to a PV, printing the value before and after.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "caproto-put",
    version,
    about = "Write a value to a PV.",
    after_help = "DATA is read like a Python literal: 1, 2.5, 0x10, 'text', [1, 2]; anything \
                  else is taken as a string. Exit status: 0 on success, 1 when the PV could not \
                  be written (not found, timed out, refused, bad value), 2 for bad arguments.",
    group(clap::ArgGroup::new("mode").args(["format", "terse", "wide"]))
)]
pub struct PutArgs {
    /// PV (channel) name.
    #[arg(value_name = "PV_NAME")]
    pub pv_name: String,
    /// Value or values to write (with --file: the file to read them from). Several
    /// arguments are joined by spaces, as caput does; with -a, caput's count form
    /// `-a PV N v1 ... vN` is accepted too.
    #[arg(value_name = "DATA", allow_hyphen_values = true, num_args = 1.., required = true)]
    pub data: Vec<String>,
    /// Python-style format string. Tokens: {pv_name}, {response} (and attributes such as
    /// {response.data}), {which} (Old/New) and, for time types, {timestamp}.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub channel: ChannelArgs,
    /// Request notification of completion, and wait for it.
    #[arg(long, short = 'c')]
    pub notify: bool,
    /// Display data only. Unpack scalars: [3.] -> 3.
    #[arg(long, short = 't')]
    pub terse: bool,
    /// Wide mode, showing 'name timestamp value status' (implies reading as time type).
    #[arg(long, short = 'l')]
    pub wide: bool,
    /// Read enums back as integers (default: their state strings).
    #[arg(short = 'n')]
    pub enum_as_number: bool,
    /// Interpret DATA as an array, its elements separated by spaces.
    #[arg(long, short = 'a')]
    pub array: bool,
    /// Interpret DATA as the name of a file holding the value(s).
    #[arg(long)]
    pub file: bool,
    /// With --array: pad the array with zeros up to this length.
    #[arg(long, value_name = "LENGTH", requires = "array")]
    pub array_pad: Option<usize>,
    /// Interpret DATA as a string of characters (written to CHAR arrays byte by byte).
    #[arg(short = 'S')]
    pub as_string: bool,
    /// Take every value as a string (no number parsing; enums by state name), as caput -s.
    #[arg(short = 's', conflicts_with = "as_string")]
    pub force_string: bool,
    #[command(flatten)]
    pub log: LogArgs,
}

impl PutArgs {
    /// The output mode: --format beats --terse, which beats --wide.
    pub fn mode(&self) -> Mode {
        output_mode(self.format.as_deref(), self.terse, self.wide)
    }

    /// Where DATA comes from (`--file` takes exactly one argument).
    pub fn data_file(&self) -> Option<PathBuf> {
        self.file.then(|| PathBuf::from(self.data.join(" ")))
    }

    /// DATA as one text: a single argument as given; several joined by
    /// spaces (caput's rule for scalars, and the elements with -a); with -a,
    /// caput's count form `N v1 ... vN` has its count checked and dropped.
    pub fn data_text(&self) -> Result<String, String> {
        match self.data.as_slice() {
            [one] => Ok(one.clone()),
            [count, values @ ..] if self.array => match count.parse::<usize>() {
                Ok(n) if n == values.len() => Ok(values.join(" ")),
                Ok(n) => Err(format!(
                    "-a: the count says {n} value{}, {} given",
                    if n == 1 { "" } else { "s" },
                    values.len()
                )),
                Err(_) => Ok(self.data.join(" ")),
            },
            many => Ok(many.join(" ")),
        }
    }
}
