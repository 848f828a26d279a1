//! Command line of `caproto-shark`.

use std::path::PathBuf;

use clap::Parser;

use super::LogArgs;

/// Decode Channel Access traffic from a packet capture.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "caproto-shark",
    version,
    about = "Decode Channel Access traffic from a pcap or pcapng capture.",
    long_about = "Decode Channel Access traffic from a pcap or pcapng capture (a file, or standard \
                  input as written by `tcpdump -U -w -`) into the same per-command records the \
                  tools log with -vv: capture time, sender --->>> receiver, size, PV name and \
                  command. Records go to standard output; --log-pv, --log-addr, --log-role, \
                  --log-format and --log-file work as for every other tool. Each record is told \
                  from its sender's side: role client for requests, server for responses.",
    after_help = "Example: sudo tcpdump -i any -U -w - port 5064 or port 5065 | caproto-shark \
                  --log-pv 'motor:*'\n\nProblems in the capture (corrupt records, packets cut by \
                  the snapshot length, bytes that are not CA) are reported on standard error with \
                  their packet number; decoding goes on. Exit status: 0 when the capture was \
                  read, 1 when it could not be opened or is not a capture, 2 for bad arguments, \
                  130 after Ctrl-C."
)]
pub struct SharkArgs {
    /// Capture file (pcap or pcapng); `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// TCP/UDP port CA servers listen on (repeatable). Default: EPICS_CA_SERVER_PORT and
    /// EPICS_CAS_SERVER_PORT if set, else 5064. Connections seen from their SYN, or whose
    /// commands tell the roles, are decoded on any port.
    #[arg(long = "port", value_name = "PORT", action = clap::ArgAction::Append)]
    pub ports: Vec<u16>,
    /// UDP port of the CA repeater (repeatable). Default: EPICS_CA_REPEATER_PORT, else 5065.
    #[arg(long = "repeater-port", value_name = "PORT", action = clap::ArgAction::Append)]
    pub repeater_ports: Vec<u16>,
    /// At the end (or on Ctrl-C) print totals per PV, per circuit, searches per name
    /// (unanswered first) with the busiest searchers, and beacon anomalies.
    #[arg(long)]
    pub summary: bool,
    /// Every DURATION of capture time (`30s`, `5m`, `1h`), emit a summary of that period as
    /// an INFO record (target caproto::shark::summary): messages, bytes, busiest PVs,
    /// circuits, unanswered searches, busiest searchers, beacon anomalies, bytes lost and
    /// messages damaged. Records go wherever the others go (--log-format json, --log-file,
    /// --log-ship).
    #[arg(long, value_name = "DURATION", value_parser = parse_period)]
    pub summary_every: Option<std::time::Duration>,
    /// A live view instead of records, iftop for Channel Access: the busiest PVs (messages/s,
    /// bytes/s), clients and servers, unanswered searches and search storms, beacon
    /// anomalies and errors, redrawn each second. Keys: s or 1-5 choose the sort column, q
    /// quits. On a capture file it shows the final picture until q. Needs a terminal.
    #[arg(long, conflicts_with_all = ["summary", "summary_every", "metrics"])]
    pub top: bool,
    /// Largest CA message accepted, in bytes; a header announcing more is reported and
    /// skipped.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024 + 24)]
    pub max_message: usize,
    /// Bytes one TCP flow may hold out of order before missing bytes are given up on.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_flow_buffer: usize,
    /// Serve Prometheus metrics of the traffic at http://ADDR/metrics (e.g. 127.0.0.1:9465):
    /// messages by command, searches and unanswered names, beacon anomalies, lost bytes,
    /// per-PV and per-client counts (see docs/metrics.md). The endpoint stays up after the
    /// input ends, until Ctrl-C or SIGTERM.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// With --metrics: how many of the busiest PVs and client hosts are exported by name.
    #[arg(
        long = "metrics-top",
        value_name = "N",
        default_value_t = 10,
        requires = "metrics"
    )]
    pub metrics_top: usize,
    /// With --metrics: also export every PV matching PATTERN (`*`, `?`; repeatable).
    #[arg(long = "metrics-pv", value_name = "PATTERN", requires = "metrics",
          action = clap::ArgAction::Append)]
    pub metrics_pv: Vec<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// A `--summary-every` period: a humantime duration of at least 1 ms.
fn parse_period(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < std::time::Duration::from_millis(1) {
        return Err("the period must be at least 1ms".into());
    }
    Ok(d)
}
