//! Put logs in a file of their own.

use std::path::Path;

use tracing::level_filters::LevelFilter;

use crate::log::{self, ColorMode, LogConfig, LogError, TargetFilter};

/// Tracing target of put-log records (one per write a TRAPWRITE rule
/// grants, with fields `pv`, `user`, `host`, `old`, `new`), so a handler can
/// send them to a file of their own.
pub const PUTLOG_TARGET: &str = "caproto::putlog";

/// Add a log handler appending put-log records, and nothing else (not even
/// warnings), to the file at `path`. Keep the returned handler to remove it.
pub fn putlog_handler(path: &Path) -> Result<log::Handler, LogError> {
    let only_putlog = TargetFilter::new([PUTLOG_TARGET]).level(LevelFilter::OFF);
    log::add_handler(
        LogConfig::file(path)
            .level(LevelFilter::INFO)
            .color(ColorMode::Never)
            .filter(only_putlog),
    )
}
