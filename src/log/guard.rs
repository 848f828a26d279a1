//! Keeps records from being lost at exit.

use super::Handler;

/// Returned when logging is set up (the tools' `LogArgs::init` returns one); keep it alive for the whole of `main`.
///
/// Dropping it flushes every log destination (waiting a bounded time for shipping queues) and
/// reports shipping destinations that dropped records ([`super::finish`]); it does not remove
/// the handlers, so records
/// emitted later (for example while a runtime shuts down) are still written. Return from `main`
/// (e.g. with `ExitCode`) rather than calling `process::exit`, which skips destructors.
#[must_use = "dropping the guard at once only flushes; keep it until the end of main"]
#[derive(Debug)]
pub struct LogGuard {
    pub(crate) terminal: Handler,
    pub(crate) file: Option<Handler>,
    pub(crate) ships: Vec<Handler>,
}

impl LogGuard {
    /// The terminal handler (also what [`super::get_handler`] returns).
    pub fn terminal(&self) -> Handler {
        self.terminal
    }

    /// The `--log-file` handler, if one was requested.
    pub fn file(&self) -> Option<Handler> {
        self.file
    }

    /// The `--log-ship` handlers, in the order given.
    pub fn ships(&self) -> &[Handler] {
        &self.ships
    }

    /// Flushes every destination now (for signal handlers that are about to exit).
    pub fn flush(&self) {
        super::flush();
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        super::finish();
    }
}
