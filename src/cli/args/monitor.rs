//! Command line of `caproto-monitor`.

use clap::Parser;

use crate::cli::args::common::{ChannelArgs, ValueFormatArgs};
use crate::cli::args::LogArgs;
use crate::cli::output::camonitor::{parse_ts_mode, TsMode};
use crate::proto::command::mask;

/// Parse `-m`: any combination of v (value), a (alarm), l (log/archive), p (property).
pub fn parse_mask(s: &str) -> Result<u16, String> {
    if s.is_empty() {
        return Err("the mask needs at least one of v, a, l, p".into());
    }
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'v' => mask::VALUE,
            'a' => mask::ALARM,
            'l' => mask::LOG,
            'p' => mask::PROPERTY,
            other => {
                return Err(format!(
                    "unknown mask letter {other:?}: use v (value), a (alarm), l (log/archive), p (property)"
                ))
            }
        };
    }
    Ok(bits)
}

/// Print updates of one or more PVs as they arrive.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "caproto-monitor",
    version,
    about = "Monitor the values of PVs, printing a line for each update.",
    after_help = "Runs until interrupted (Ctrl-C), --duration elapses or --maximum updates were \
                  printed. PVs not found are reported and searched for until found; a lost PV is \
                  reported and followed again when it returns, with its new type. Exit status: 0 \
                  normally, 1 when a PV was not found and never connected (with --strict: could not be \
                  subscribed), 2 for bad arguments, 130 after Ctrl-C (SIGINT), 143 after SIGTERM."
)]
pub struct MonitorArgs {
    /// PV (channel) names.
    #[arg(value_name = "PV_NAME", required = true)]
    pub pv_names: Vec<String>,
    /// Python-style format string. Tokens: {pv_name}, {response} (and attributes such as
    /// {response.data}), {callback_count}, {timestamp} (also {timestamp:%H:%M:%S.%f}) and
    /// {timedelta} (time since the previous update; for the first, the update's age).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// camonitor's timestamp modes, and its line layout: any of s (server stamps), c (client
    /// clock, in parentheses), n (none), r (relative), i (incremental), I (incremental by PV).
    #[arg(short = 't', value_name = "KEY", value_parser = parse_ts_mode, conflicts_with = "format")]
    pub timestamps: Option<TsMode>,
    /// Stop after this many seconds. Runs indefinitely by default.
    #[arg(long, value_name = "SECONDS", value_parser = crate::cli::args::common::parse_timeout, conflicts_with = "maximum")]
    pub duration: Option<f64>,
    /// Stop after this many updates (over all PVs). Unlimited by default.
    #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub maximum: Option<u64>,
    /// Exit (status 1) for PVs not found within the timeout, and stop following a PV once its
    /// circuit is lost, instead of reporting "*** Not connected" / "*** disconnected" and
    /// searching until it (re)connects.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub channel: ChannelArgs,
    /// Channel Access event mask: any combination of 'v' (value), 'a' (alarm),
    /// 'l' (log/archive), 'p' (property).
    #[arg(short = 'm', value_name = "MASK", default_value = "va", value_parser = parse_mask)]
    pub mask: u16,
    #[command(flatten)]
    pub values: ValueFormatArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(parse_mask("va"), Ok(mask::VALUE | mask::ALARM));
        assert_eq!(parse_mask("vlap"), Ok(15));
        assert!(parse_mask("").is_err());
        assert!(parse_mask("vx").is_err());
    }
}
