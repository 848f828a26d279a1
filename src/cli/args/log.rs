//! The logging options every tool shares, flattened into each binary's clap parser.

use std::path::PathBuf;

use clap::{ArgAction, Args};
use tracing::level_filters::LevelFilter;

use crate::log::{
    self, AddressFilter, AddressSpec, ColorMode, FieldFilter, Format, Handler, LogConfig, LogError,
    LogGuard, PvFilter, Role, RoleFilter,
};

/// Verbosity and log routing, shared by every binary (`#[command(flatten)] log: LogArgs`).
///
/// Terminal level: WARN by default, `-v` INFO, `-vv` DEBUG (one line per CA command sent or
/// received), `-vvv` TRACE (DEBUG plus payload-level detail), `-q` ERROR, `-qq` nothing.
/// `--log-file` adds a second handler at DEBUG (or the `-v` level if more verbose) while the
/// terminal keeps its own level. `--log-pv`, `--log-addr` and `--log-role` filters apply to
/// both; records at WARN or above always pass them.
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

/// The `--log-file` handler of the previous `init`, replaced by the next one.
static CLI_FILE_HANDLER: std::sync::Mutex<Option<Handler>> = std::sync::Mutex::new(None);

impl LogArgs {
    /// The terminal handler's level from `-v`/`-q`.
    pub fn terminal_level(&self) -> LevelFilter {
        log::verbosity_level(self.verbose, self.quiet)
    }

    /// The file handler's level: DEBUG, or the terminal level if that is more verbose.
    pub fn file_level(&self) -> LevelFilter {
        self.terminal_level().max(LevelFilter::DEBUG)
    }

    /// The filters requested on the command line (the same set goes on every handler).
    pub fn filters(&self) -> Result<Vec<FieldFilter>, LogError> {
        let mut out = Vec::new();
        if !self.log_pv.is_empty() {
            out.push(PvFilter::new(&self.log_pv)?.into());
        }
        if !self.log_addr.is_empty() {
            out.push(AddressFilter::new(self.log_addr.clone()).into());
        }
        if let Some(role) = self.log_role {
            out.push(RoleFilter::new(role).into());
        }
        Ok(out)
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
        let cfg = LogConfig::file(path)
            .level(self.file_level())
            .format(self.log_format)
            .color(ColorMode::Never);
        self.with_filters(cfg).map(Some)
    }

    fn with_filters(&self, mut cfg: LogConfig) -> Result<LogConfig, LogError> {
        for f in self.filters()? {
            cfg = cfg.filter(f);
        }
        Ok(cfg)
    }

    /// Sets up logging for a tool: the terminal handler (the global one, see
    /// [`log::get_handler`]) and, with `--log-file`, a file handler. A log file that cannot be
    /// opened is an error here, before the tool does anything. Calling it again replaces both.
    pub fn init(&self) -> Result<LogGuard, LogError> {
        let file_cfg = self.file_config()?;
        let terminal = log::config_logging(self.terminal_config()?)?;
        let mut previous = CLI_FILE_HANDLER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = previous.take() {
            // Already gone is fine: someone removed it by hand.
            let _ = old.remove();
        }
        let file = match file_cfg {
            Some(cfg) => Some(log::add_handler(cfg)?),
            None => None,
        };
        *previous = file;
        Ok(LogGuard { terminal, file })
    }
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
    fn no_color_and_format() {
        let a = parse(&["--no-color", "--log-format", "json"]).unwrap();
        let c = a.terminal_config().unwrap();
        assert_eq!(c.color, ColorMode::Never);
        assert_eq!(c.format, Format::Json);
    }
}
