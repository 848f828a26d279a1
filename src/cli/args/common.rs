//! Argument groups shared by caproto-get, caproto-put and caproto-monitor:
//! channel access options, the caget-style value format options, and the
//! output mode rule of caproto-get and caproto-put ([`output_mode`]).

use std::time::Duration;

use clap::Args;

use crate::cli::output::format::{DataFormat, FloatStyle, Mode};
use crate::cli::output::numfmt::Radix;

/// The timeout, seconds, when neither `-w` nor the environment gives one
/// (caproto's built-in `CAPROTO_DEFAULT_TIMEOUT`).
pub const DEFAULT_TIMEOUT_SECS: f64 = 2.0;

/// Environment variables that set the default timeout, in order of
/// precedence: EPICS's tools read the first, caproto's the second.
pub const TIMEOUT_ENV_VARS: [&str; 2] = ["EPICS_CLI_TIMEOUT", "CAPROTO_DEFAULT_TIMEOUT"];

/// The timeout in seconds: `-w` if given, else the first of
/// [`TIMEOUT_ENV_VARS`] that `env` gives as a valid number, else
/// [`DEFAULT_TIMEOUT_SECS`]. A set but invalid variable is skipped, with a
/// warning in the second element (as EPICS's tools warn and go on).
pub fn resolve_timeout(
    typed: Option<f64>,
    env: impl Fn(&str) -> Option<String>,
) -> (f64, Option<String>) {
    if let Some(t) = typed {
        return (t, None);
    }
    let mut warning = None;
    for var in TIMEOUT_ENV_VARS {
        let Some(text) = env(var) else { continue };
        match parse_timeout(&text) {
            Ok(t) => return (t, warning),
            Err(e) => {
                warning.get_or_insert(format!("ignoring {var}={text:?}: {e}"));
            }
        }
    }
    (DEFAULT_TIMEOUT_SECS, warning)
}

/// Parse a timeout in seconds: finite and positive.
pub fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 1e9 {
        Ok(v)
    } else {
        Err(format!(
            "timeout must be a positive number of seconds, got {s}"
        ))
    }
}

/// The output mode of caproto-get and caproto-put: a `--format` string beats
/// `--terse`, which beats `--wide`.
pub fn output_mode(format: Option<&str>, terse: bool, wide: bool) -> Mode {
    match (format, terse, wide) {
        (Some(f), _, _) => Mode::Custom(f.to_owned()),
        (None, true, _) => Mode::Terse,
        (None, _, true) => Mode::Wide,
        _ => Mode::Default,
    }
}

/// Options about talking to the server.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct ChannelArgs {
    /// Timeout ('wait') in seconds for server responses [default: $EPICS_CLI_TIMEOUT, else $CAPROTO_DEFAULT_TIMEOUT, else 2].
    #[arg(long, short = 'w', value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
    /// Channel Access virtual circuit priority, 0 (lowest) to 99 (highest).
    #[arg(long, short = 'p', value_name = "PRIORITY", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=99))]
    pub priority: u16,
    /// Do not start a Channel Access repeater process.
    #[arg(long)]
    pub no_repeater: bool,
}

impl ChannelArgs {
    /// The timeout as a `Duration`: `-w`, else the environment's default
    /// (see [`resolve_timeout`]; a warning about an invalid variable is
    /// logged once per call).
    pub fn timeout(&self) -> Duration {
        let (secs, warning) = resolve_timeout(self.timeout, |k| std::env::var(k).ok());
        if let Some(w) = warning {
            tracing::warn!(target: "caproto::ctx", "{w}");
        }
        Duration::from_secs_f64(secs)
    }
}

/// Floating point format options. When several are given the last one wins, as in caget.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Floating point type format (default %g)")]
pub struct FloatArgs {
    /// Use %e format with a precision of `nr` digits (e.g. `-e5` or `-e 5`).
    #[arg(short = 'e', value_name = "nr", help = "Use %e format with a precision of <nr> digits (e.g. -e5 or -e 5)", overrides_with_all = ["float_f", "float_g", "float_s", "float_lx", "float_lo", "float_lb"])]
    pub float_e: Option<u8>,
    /// Use %f format with a precision of `nr` digits (e.g. `-f5` or `-f 5`).
    #[arg(short = 'f', value_name = "nr", help = "Use %f format with a precision of <nr> digits (e.g. -f5 or -f 5)", overrides_with_all = ["float_e", "float_g", "float_s", "float_lx", "float_lo", "float_lb"])]
    pub float_f: Option<u8>,
    /// Use %g format with a precision of `nr` digits (e.g. `-g5` or `-g 5`).
    #[arg(short = 'g', value_name = "nr", help = "Use %g format with a precision of <nr> digits (e.g. -g5 or -g 5)", overrides_with_all = ["float_e", "float_f", "float_s", "float_lx", "float_lo", "float_lb"])]
    pub float_g: Option<u8>,
    /// Print floats with %f (caproto's stand-in for the server's string form).
    #[arg(short = 's', overrides_with_all = ["float_e", "float_f", "float_g", "float_lx", "float_lo", "float_lb"])]
    pub float_s: bool,
    /// Round to a long integer and print as hex number (also -lx).
    #[arg(long = "lx", overrides_with_all = ["float_e", "float_f", "float_g", "float_s", "float_lo", "float_lb"])]
    pub float_lx: bool,
    /// Round to a long integer and print as octal number (also -lo).
    #[arg(long = "lo", overrides_with_all = ["float_e", "float_f", "float_g", "float_s", "float_lx", "float_lb"])]
    pub float_lo: bool,
    /// Round to a long integer and print as binary number (also -lb).
    #[arg(long = "lb", overrides_with_all = ["float_e", "float_f", "float_g", "float_s", "float_lx", "float_lo"])]
    pub float_lb: bool,
}

impl FloatArgs {
    /// The selected style (clap has already dropped all but the last given).
    pub fn style(&self) -> FloatStyle {
        if let Some(n) = self.float_e {
            FloatStyle::Exp(n.into())
        } else if let Some(n) = self.float_f {
            FloatStyle::Fixed(n.into())
        } else if let Some(n) = self.float_g {
            FloatStyle::GeneralPrec(n.into())
        } else if self.float_s {
            FloatStyle::ServerString
        } else if self.float_lx {
            FloatStyle::Rounded(Radix::Hex)
        } else if self.float_lo {
            FloatStyle::Rounded(Radix::Octal)
        } else if self.float_lb {
            FloatStyle::Rounded(Radix::Binary)
        } else {
            FloatStyle::General
        }
    }
}

/// Integer format options; the last one given wins.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Integer number format (default decimal)")]
pub struct IntArgs {
    /// Print as hex number (also -0x).
    #[arg(long = "0x", overrides_with_all = ["int_0o", "int_0b"])]
    pub int_0x: bool,
    /// Print as octal number (also -0o).
    #[arg(long = "0o", overrides_with_all = ["int_0x", "int_0b"])]
    pub int_0o: bool,
    /// Print as binary number (also -0b).
    #[arg(long = "0b", overrides_with_all = ["int_0x", "int_0o"])]
    pub int_0b: bool,
}

impl IntArgs {
    /// The selected base, if any.
    pub fn radix(&self) -> Option<Radix> {
        if self.int_0x {
            Some(Radix::Hex)
        } else if self.int_0o {
            Some(Radix::Octal)
        } else if self.int_0b {
            Some(Radix::Binary)
        } else {
            None
        }
    }
}

/// Value format options of caproto-get and caproto-monitor.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueFormatArgs {
    /// Print enums as integers (default: their state strings).
    #[arg(short = 'n')]
    pub enum_as_number: bool,
    /// Print an array of chars as a string (long string).
    #[arg(short = 'S')]
    pub char_as_string: bool,
    /// Request and print only the first COUNT elements of an array.
    #[arg(short = '#', value_name = "COUNT")]
    pub count: Option<u32>,
    #[command(flatten)]
    pub float: FloatArgs,
    #[command(flatten)]
    pub int: IntArgs,
    /// Use `ofs` as an alternate output field separator (e.g. `-F*`, `-F '*'`, `-F ' ** '`).
    #[arg(
        help = "Use <ofs> as an alternate output field separator (e.g. -F*, -F '*', -F ' ** ')",
        short = 'F',
        value_name = "ofs",
        help_heading = "Custom output field separator",
        allow_hyphen_values = true
    )]
    pub separator: Option<String>,
}

impl ValueFormatArgs {
    /// The element layout these options select.
    pub fn data_format(&self) -> DataFormat {
        DataFormat {
            float: self.float.style(),
            int_radix: self.int.radix(),
            char_as_string: self.char_as_string,
            separator: self.separator.clone(),
        }
    }
}
