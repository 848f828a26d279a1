//! Termination signals for the command-line tools: Ctrl-C (SIGINT) and, on
//! Unix, SIGTERM end a tool cleanly (logs flushed, channels cleared) with the
//! status a shell reports for a process stopped by that signal.

/// Exit status after Ctrl-C / SIGINT (128 + 2, as a shell reports it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit status after SIGTERM (128 + 15, as a shell reports it).
pub const EXIT_TERMINATED: u8 = 143;

/// Resolves when SIGINT or SIGTERM arrives, with the exit status to use
/// ([`EXIT_INTERRUPTED`] or [`EXIT_TERMINATED`]). Every log destination has
/// been flushed by then, so records emitted before the signal are on disk
/// even if the process is killed right after.
///
/// If a handler cannot be installed, that signal keeps its default action
/// (the process ends at once); if neither can, this never resolves.
pub async fn termination_signal() -> u8 {
    armed_termination_signal().await
}

/// [`termination_signal`] with its handlers installed now, not at the first
/// poll: a signal that comes before the future is first polled (it runs on
/// another thread that may start late) is not lost. Call it inside a tokio
/// runtime context.
#[cfg(unix)]
pub fn armed_termination_signal() -> impl std::future::Future<Output = u8> + Send {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let code = match (interrupt, terminate) {
            (Some(mut i), Some(mut t)) => tokio::select! {
                _ = i.recv() => EXIT_INTERRUPTED,
                _ = t.recv() => EXIT_TERMINATED,
            },
            (Some(mut i), None) => {
                i.recv().await;
                EXIT_INTERRUPTED
            }
            (None, Some(mut t)) => {
                t.recv().await;
                EXIT_TERMINATED
            }
            (None, None) => std::future::pending().await,
        };
        crate::log::flush();
        code
    }
}

/// [`termination_signal`] (Ctrl-C only, installed at its first poll on
/// this platform).
#[cfg(not(unix))]
pub fn armed_termination_signal() -> impl std::future::Future<Output = u8> + Send {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        crate::log::flush();
        EXIT_INTERRUPTED
    }
}
