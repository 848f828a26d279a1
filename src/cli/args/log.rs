//! The logging options every tool shares, flattened into each binary's clap parser.

use std::path::PathBuf;

use clap::{ArgAction, Args};
use tracing::level_filters::LevelFilter;
use tracing::Level;

use super::log_ship::ShipSpec;
use crate::log::{
    self, AddressFilter, AddressSpec, ColorMode, FieldFilter, Format, Handler, LogConfig, LogError,
    LogGuard, PvFilter, RoleFilter, Rotation, TargetFilter,
};
use crate::proto::Role;

/// `--log-role client|server`: the protocol's [`Role`], with the help text
/// the completions and man pages show for each value.
impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role::Client, Role::Server]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            Role::Client => "Records produced by client code (`role = \"client\"`)",
            Role::Server => "Records produced by server code (`role = \"server\"`)",
        };
        Some(clap::builder::PossibleValue::new(self.as_str()).help(help))
    }
}

/// Verbosity and log routing, shared by every binary (`#[command(flatten)] log: LogArgs`).
///
/// Terminal level: WARN by default, `-v` INFO, `-vv` DEBUG (one line per CA command sent or
/// received), `-vvv` TRACE (DEBUG plus payload-level detail), `-q` ERROR, `-qq` nothing.
/// `--log-file` adds a second handler at DEBUG (or the `-v` level if more verbose) while the
/// terminal keeps its own level. `--log-ship URL` (repeatable) adds a shipping handler per
/// destination at `--log-ship-level`, each with its own level and filters in the URL's query
/// string ([`ShipSpec`]). `--log-pv`, `--log-addr` and `--log-role` filters apply to every
/// handler unless a destination's URL replaces them; records at WARN or above always pass them.
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct LogArgs {
    /// Show more log messages (-v info, -vv every CA command, -vvv also payload detail)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Show fewer log messages (-q errors only, -qq none)
    #[arg(short = 'q', long = "quiet", action = ArgAction::Count, global = true,
          conflicts_with = "verbose")]
    pub quiet: u8,

    /// Also append log records to this file (at DEBUG, or more with -vvv)
    #[arg(long = "log-file", value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,

    /// Rotate --log-file before it grows past SIZE bytes (K, M, G suffixes: 1024-based)
    #[arg(long = "log-file-max-size", value_name = "SIZE", value_parser = parse_size,
          requires = "log_file", global = true)]
    pub log_file_max_size: Option<u64>,

    /// With --log-file-max-size: rotated files to keep, PATH.1 (newest) to PATH.N
    #[arg(
        long = "log-file-keep",
        value_name = "N",
        default_value_t = 5,
        requires = "log_file_max_size",
        global = true
    )]
    pub log_file_keep: u32,

    /// Also ship records to a collector (repeatable): tcp://HOST:PORT (JSON lines),
    /// syslog://HOST:PORT, syslog+udp://HOST:PORT or unixgram:///dev/log (RFC 5424);
    /// per-destination ?level=L&pv=P&addr=A&role=R (see docs/logging.md)
    #[arg(long = "log-ship", value_name = "URL", value_parser = parse_ship,
          action = ArgAction::Append, global = true)]
    pub log_ship: Vec<ShipSpec>,

    /// Level of --log-ship destinations without their own ?level= (default: INFO, or the
    /// terminal level if more verbose)
    #[arg(long = "log-ship-level", value_name = "LEVEL", value_parser = parse_level_arg,
          global = true)]
    pub log_ship_level: Option<LevelFilter>,

    /// Drop every record at LEVEL or more verbose, whatever the handlers want (Python's
    /// logging.disable): e.g. debug keeps INFO and above
    #[arg(long = "log-disable", value_name = "LEVEL", value_parser = parse_disable_level,
          global = true)]
    pub log_disable: Option<Level>,

    /// Only log records about PVs matching this name or pattern (* and ? wildcards; repeatable)
    #[arg(long = "log-pv", value_name = "PATTERN", value_parser = parse_pv_pattern,
          action = ArgAction::Append, global = true)]
    pub log_pv: Vec<String>,

    /// Only log records involving this address: HOST (all ports) or HOST:PORT (repeatable)
    #[arg(long = "log-addr", value_name = "HOST[:PORT]", value_parser = parse_addr,
          action = ArgAction::Append, global = true)]
    pub log_addr: Vec<AddressSpec>,

    /// Only log records from this side of the conversation
    #[arg(long = "log-role", value_name = "ROLE", value_enum, global = true)]
    pub log_role: Option<Role>,

    /// Log line format
    #[arg(long = "log-format", value_name = "FORMAT", value_enum, default_value_t = Format::Text,
          global = true)]
    pub log_format: Format,

    /// Do not colour log lines (also honoured: the NO_COLOR environment variable)
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
}

fn parse_pv_pattern(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("a PV pattern must not be empty".to_owned())
    } else {
        Ok(s.to_owned())
    }
}

fn parse_addr(s: &str) -> Result<AddressSpec, String> {
    s.parse::<AddressSpec>().map_err(|e| match e {
        LogError::InvalidAddress { reason, .. } => {
            format!("{reason} (expected HOST or HOST:PORT, e.g. 127.0.0.1:5064)")
        }
        other => other.to_string(),
    })
}

fn parse_ship(s: &str) -> Result<ShipSpec, String> {
    s.parse::<ShipSpec>().map_err(|e| e.to_string())
}

fn parse_level_arg(s: &str) -> Result<LevelFilter, String> {
    log::parse_level(s).map_err(|e| e.to_string())
}

fn parse_disable_level(s: &str) -> Result<Level, String> {
    match log::parse_level(s).map_err(|e| e.to_string())?.into_level() {
        Some(l) => Ok(l),
        None => Err("\"off\" disables nothing; give the most verbose level to drop".to_owned()),
    }
}

/// `123`, `64K`, `10M`, `1G` (1024-based; a trailing `B` or `iB` is accepted).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix {c:?} (K, M or G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {s:?} (e.g. 10M)"))?;
    match n.checked_mul(mult) {
        Some(v) if v > 0 => Ok(v),
        Some(_) => Err("the size must be positive".to_owned()),
        None => Err(format!("size {s:?} is too large")),
    }
}

/// The file and shipping handlers of the previous `init`, replaced by the next one.
static CLI_EXTRA_HANDLERS: std::sync::Mutex<Vec<Handler>> = std::sync::Mutex::new(Vec::new());

impl LogArgs {
    /// The terminal handler's level from `-v`/`-q`.
    pub fn terminal_level(&self) -> LevelFilter {
        log::verbosity_level(self.verbose, self.quiet)
    }

    /// The file handler's level: DEBUG, or the terminal level if that is more verbose.
    pub fn file_level(&self) -> LevelFilter {
        self.terminal_level().max(LevelFilter::DEBUG)
    }

    /// The level of shipping destinations without their own `?level=`: `--log-ship-level`, or
    /// INFO, or the terminal level if that is more verbose.
    pub fn ship_level(&self) -> LevelFilter {
        self.log_ship_level
            .unwrap_or_else(|| self.terminal_level().max(LevelFilter::INFO))
    }

    /// The filters requested on the command line (the same set goes on every handler).
    pub fn filters(&self) -> Result<Vec<FieldFilter>, LogError> {
        filters_of(&self.log_pv, &self.log_addr, self.log_role)
    }

    /// One handler configuration per `--log-ship`, with the destination's own level and
    /// filters where its URL gives them, the common ones otherwise.
    pub fn ship_configs(&self) -> Result<Vec<LogConfig>, LogError> {
        self.log_ship
            .iter()
            .map(|s| {
                let filters = filters_of(
                    s.pv.as_ref().unwrap_or(&self.log_pv),
                    s.addr.as_ref().unwrap_or(&self.log_addr),
                    s.role.or(self.log_role),
                )?;
                let mut cfg =
                    LogConfig::ship(s.target.clone()).level(s.level.unwrap_or(self.ship_level()));
                if let Some(q) = s.queue {
                    cfg = cfg.queue_capacity(q);
                }
                if let Some(f) = s.facility {
                    cfg = cfg.syslog_facility(f);
                }
                if !s.targets.is_empty() {
                    // Strict routing: barrier OFF, so other targets' warnings stay out too.
                    cfg = cfg.filter(TargetFilter::new(s.targets.clone()).level(LevelFilter::OFF));
                }
                Ok(filters.into_iter().fold(cfg, LogConfig::filter))
            })
            .collect()
    }

    /// The terminal handler's configuration.
    pub fn terminal_config(&self) -> Result<LogConfig, LogError> {
        let color = if self.no_color {
            ColorMode::Never
        } else {
            ColorMode::Auto
        };
        self.with_filters(
            LogConfig::terminal()
                .level(self.terminal_level())
                .format(self.log_format)
                .color(color),
        )
    }

    /// The `--log-file` handler's configuration, if one was asked for.
    pub fn file_config(&self) -> Result<Option<LogConfig>, LogError> {
        let Some(path) = &self.log_file else {
            return Ok(None);
        };
        let mut cfg = LogConfig::file(path)
            .level(self.file_level())
            .format(self.log_format)
            .color(ColorMode::Never);
        if let Some(max_size) = self.log_file_max_size {
            cfg = cfg.rotate(Rotation {
                max_size,
                keep: self.log_file_keep,
            });
        }
        self.with_filters(cfg).map(Some)
    }

    fn with_filters(&self, mut cfg: LogConfig) -> Result<LogConfig, LogError> {
        for f in self.filters()? {
            cfg = cfg.filter(f);
        }
        Ok(cfg)
    }

    /// Sets up logging for a tool: the terminal handler (the global one, see
    /// [`log::get_handler`]), with `--log-file` a file handler (reopened on SIGHUP), one
    /// shipping handler per `--log-ship`, and the `--log-disable` switch. A log file that
    /// cannot be opened or a bad destination is an error here, before the tool does anything
    /// (an unreachable collector is not: records queue and the writer retries). Calling it
    /// again replaces all of them.
    pub fn init(&self) -> Result<LogGuard, LogError> {
        let file_cfg = self.file_config()?;
        let ship_cfgs = self.ship_configs()?;
        match self.log_disable {
            Some(level) => log::disable(level),
            None => log::enable_all(),
        }
        let terminal = log::config_logging(self.terminal_config()?)?;
        let mut previous = crate::sync::lock(&CLI_EXTRA_HANDLERS);
        for old in previous.drain(..) {
            // Already gone is fine: someone removed it by hand.
            let _ = old.remove();
        }
        let file = match file_cfg {
            Some(cfg) => Some(log::add_handler(cfg)?),
            None => None,
        };
        previous.extend(file);
        let mut ships = Vec::new();
        for cfg in ship_cfgs {
            let h = log::add_handler(cfg)?;
            previous.push(h);
            ships.push(h);
        }
        if file.is_some() {
            if let Err(e) = log::reopen_on_sighup() {
                tracing::warn!(target: "caproto::log", "SIGHUP will not reopen the log file: {e}");
            }
        }
        Ok(LogGuard {
            terminal,
            file,
            ships,
        })
    }
}

fn filters_of(
    pv: &[String],
    addr: &[AddressSpec],
    role: Option<Role>,
) -> Result<Vec<FieldFilter>, LogError> {
    let mut out = Vec::new();
    if !pv.is_empty() {
        out.push(PvFilter::new(pv)?.into());
    }
    if !addr.is_empty() {
        out.push(AddressFilter::new(addr.to_vec()).into());
    }
    if let Some(role) = role {
        out.push(RoleFilter::new(role).into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    fn parse(args: &[&str]) -> Result<LogArgs, clap::Error> {
        let mut v = vec!["tool"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|c| c.log)
    }

    #[test]
    fn verbosity_flags() {
        assert_eq!(parse(&[]).unwrap().terminal_level(), LevelFilter::WARN);
        assert_eq!(parse(&["-v"]).unwrap().terminal_level(), LevelFilter::INFO);
        assert_eq!(
            parse(&["-vv"]).unwrap().terminal_level(),
            LevelFilter::DEBUG
        );
        assert_eq!(
            parse(&["-vvv"]).unwrap().terminal_level(),
            LevelFilter::TRACE
        );
        assert_eq!(parse(&["-q"]).unwrap().terminal_level(), LevelFilter::ERROR);
        assert!(parse(&["-v", "-q"]).is_err());
    }

    #[test]
    fn file_level_is_at_least_debug() {
        assert_eq!(
            parse(&["--log-file", "x"]).unwrap().file_level(),
            LevelFilter::DEBUG
        );
        assert_eq!(
            parse(&["-q", "--log-file", "x"]).unwrap().file_level(),
            LevelFilter::DEBUG
        );
        assert_eq!(
            parse(&["-vvv", "--log-file", "x"]).unwrap().file_level(),
            LevelFilter::TRACE
        );
    }

    #[test]
    fn filters_from_flags() {
        let a = parse(&[
            "--log-pv",
            "a:*",
            "--log-pv",
            "b",
            "--log-addr",
            "127.0.0.1:5064",
            "--log-role",
            "server",
        ])
        .unwrap();
        let f = a.filters().unwrap();
        assert_eq!(f.len(), 3);
        match &f[0] {
            FieldFilter::Pv(p) => assert_eq!(p.patterns().collect::<Vec<_>>(), ["a:*", "b"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&f[2], FieldFilter::Role(r) if r.role() == Role::Server));
    }

    #[test]
    fn invalid_values_are_rejected_with_a_reason() {
        let e = parse(&["--log-addr", "127.0.0.1:99999"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--log-addr") && e.contains("port"), "{e}");
        let e = parse(&["--log-role", "both"]).unwrap_err().to_string();
        assert!(e.contains("client") && e.contains("server"), "{e}");
        let e = parse(&["--log-format", "xml"]).unwrap_err().to_string();
        assert!(e.contains("text") && e.contains("json"), "{e}");
        assert!(parse(&["--log-pv", ""]).is_err());
    }

    #[test]
    fn ship_destinations_take_their_own_level_and_filters() {
        let a = parse(&[
            "-vv",
            "--log-pv",
            "xyz*",
            "--log-ship",
            "tcp://127.0.0.1:5170",
            "--log-ship",
            "syslog://127.0.0.1:6514?level=warning&pv=abc",
        ])
        .unwrap();
        let c = a.ship_configs().unwrap();
        assert_eq!(c.len(), 2);
        // Default ship level: INFO, or the terminal level (-vv: DEBUG) if more verbose.
        assert_eq!(c[0].level, LevelFilter::DEBUG);
        assert_eq!(c[1].level, LevelFilter::WARN);
        let pats = |cfg: &LogConfig| match &cfg.filters[..] {
            [FieldFilter::Pv(p)] => p.patterns().map(str::to_owned).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(pats(&c[0]), ["xyz*"]);
        assert_eq!(pats(&c[1]), ["abc"]);
        assert_eq!(parse(&[]).unwrap().ship_level(), LevelFilter::INFO);
        let e = parse(&["--log-ship", "udp://h:1"]).unwrap_err().to_string();
        assert!(e.contains("unknown scheme"), "{e}");
    }

    #[test]
    fn rotation_and_disable_flags() {
        let a = parse(&[
            "--log-file",
            "x",
            "--log-file-max-size",
            "10M",
            "--log-file-keep",
            "3",
        ])
        .unwrap();
        let cfg = a.file_config().unwrap().unwrap();
        assert_eq!(
            cfg.rotation,
            Some(Rotation {
                max_size: 10 << 20,
                keep: 3
            })
        );
        assert!(
            parse(&["--log-file-max-size", "1K"]).is_err(),
            "needs --log-file"
        );
        assert!(parse(&["--log-file", "x", "--log-file-max-size", "1X"]).is_err());
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("0").is_err());
        let d = parse(&["--log-disable", "debug"]).unwrap();
        assert_eq!(d.log_disable, Some(Level::DEBUG));
        assert!(parse(&["--log-disable", "off"]).is_err());
    }

    #[test]
    fn no_color_and_format() {
        let a = parse(&["--no-color", "--log-format", "json"]).unwrap();
        let c = a.terminal_config().unwrap();
        assert_eq!(c.color, ColorMode::Never);
        assert_eq!(c.format, Format::Json);
    }
}
