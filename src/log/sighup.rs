//! SIGHUP reopens log files, the contract `logrotate` (without `copytruncate`) relies on: it
//! renames the file, sends SIGHUP, and the daemon starts a new file at the old path.

use std::sync::OnceLock;

static STARTED: OnceLock<Result<(), String>> = OnceLock::new();

/// Makes SIGHUP call [`super::reopen_files`] for the rest of the process (instead of ending
/// it, SIGHUP's default). A small thread with its own signal listener does it, so this works
/// whatever runtime the program uses. The handler is installed before this returns; calling it
/// again does nothing. Each reopen is logged at INFO (target `caproto::log`).
pub fn reopen_on_sighup() -> Result<(), String> {
    STARTED.get_or_init(start).clone()
}

#[cfg(unix)]
fn start() -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("caproto-log-sighup".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let mut hup = match signal(SignalKind::hangup()) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = tx.send(Ok(()));
                while hup.recv().await.is_some() {
                    super::reopen_files();
                    tracing::info!(target: "caproto::log", "SIGHUP: log files reopened");
                }
            });
        })
        .map_err(|e| e.to_string())?;
    rx.recv()
        .unwrap_or_else(|_| Err("the SIGHUP thread ended early".to_owned()))
}

#[cfg(not(unix))]
fn start() -> Result<(), String> {
    Ok(())
}
