//! Level names as caproto (Python `logging`) spells them, and the CLI verbosity mapping.

use tracing::level_filters::LevelFilter;

use super::LogError;

/// Parses a level name the way caproto accepts them: `TRACE`, `DEBUG`, `INFO`, `WARNING`/`WARN`,
/// `ERROR`, `CRITICAL` (= error; tracing has nothing above it) and `OFF`, in any case.
pub fn parse_level(name: &str) -> Result<LevelFilter, LogError> {
    let n = name.trim();
    let level = if n.eq_ignore_ascii_case("trace") {
        LevelFilter::TRACE
    } else if n.eq_ignore_ascii_case("debug") {
        LevelFilter::DEBUG
    } else if n.eq_ignore_ascii_case("info") {
        LevelFilter::INFO
    } else if n.eq_ignore_ascii_case("warning") || n.eq_ignore_ascii_case("warn") {
        LevelFilter::WARN
    } else if n.eq_ignore_ascii_case("error") || n.eq_ignore_ascii_case("critical") {
        LevelFilter::ERROR
    } else if n.eq_ignore_ascii_case("off") {
        LevelFilter::OFF
    } else {
        return Err(LogError::InvalidLevel(name.to_owned()));
    };
    Ok(level)
}

/// Maps the command-line counters to the terminal level.
///
/// * nothing: WARN (caproto's default handler level),
/// * `-v`: INFO,
/// * `-vv`: DEBUG, which includes one record per CA command sent or received,
/// * `-vvv` (or more): TRACE, i.e. DEBUG plus payload-level detail,
/// * `-q`: ERROR only, `-qq`: nothing at all.
pub fn verbosity_level(verbose: u8, quiet: u8) -> LevelFilter {
    match (verbose, quiet) {
        (0, 0) => LevelFilter::WARN,
        (0, 1) => LevelFilter::ERROR,
        (0, _) => LevelFilter::OFF,
        (1, _) => LevelFilter::INFO,
        (2, _) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caproto_level_names_parse() {
        assert_eq!(parse_level("WARNING").unwrap(), LevelFilter::WARN);
        assert_eq!(parse_level("debug").unwrap(), LevelFilter::DEBUG);
        assert_eq!(parse_level("CRITICAL").unwrap(), LevelFilter::ERROR);
        assert_eq!(parse_level("Off").unwrap(), LevelFilter::OFF);
        assert!(matches!(
            parse_level("loud"),
            Err(LogError::InvalidLevel(s)) if s == "loud"
        ));
    }

    #[test]
    fn verbosity_mapping() {
        assert_eq!(verbosity_level(0, 0), LevelFilter::WARN);
        assert_eq!(verbosity_level(1, 0), LevelFilter::INFO);
        assert_eq!(verbosity_level(2, 0), LevelFilter::DEBUG);
        assert_eq!(verbosity_level(3, 0), LevelFilter::TRACE);
        assert_eq!(verbosity_level(7, 0), LevelFilter::TRACE);
        assert_eq!(verbosity_level(0, 1), LevelFilter::ERROR);
        assert_eq!(verbosity_level(0, 2), LevelFilter::OFF);
    }
}
