//! The server's current access rules, shared by every circuit and
//! replaceable while it runs (a reload).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::error::AcfFileError;
use super::file::load_file;
use super::rules::{AccessRules, HostCheck};

/// Handle on a server's access rules. Clones share one setting.
///
/// `None` (the default) means no access security: every client may read and
/// write every PV that is not read-only, as an IOC without an ACF file.
/// Replacing the rules makes every circuit recompute the rights of its
/// channels and send ACCESS_RIGHTS for those that changed.
#[derive(Clone)]
pub struct AccessControl {
    tx: Arc<watch::Sender<Option<Arc<AccessRules>>>>,
}

impl Default for AccessControl {
    fn default() -> Self {
        AccessControl::new(None)
    }
}

impl std::fmt::Debug for AccessControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessControl")
            .field("active", &self.current().is_some())
            .finish()
    }
}

impl AccessControl {
    /// A handle holding `rules` (`None`: no access security).
    pub fn new(rules: Option<AccessRules>) -> AccessControl {
        let (tx, _rx) = watch::channel(rules.map(Arc::new));
        AccessControl { tx: Arc::new(tx) }
    }

    /// Put `rules` in force for every circuit (`None` turns access security off).
    pub fn set(&self, rules: Option<AccessRules>) {
        self.tx.send_replace(rules.map(Arc::new));
    }

    /// The rules in force.
    pub fn current(&self) -> Option<Arc<AccessRules>> {
        self.tx.borrow().clone()
    }

    /// Load the ACF file at `path` and put it in force. On error the rules
    /// in force stay as they were, and the error is returned for the caller
    /// to report.
    pub fn load(&self, path: &Path, check: HostCheck) -> Result<(), AcfFileError> {
        let rules = load_file(path, check)?;
        self.set(Some(rules));
        Ok(())
    }

    /// Reload the ACF file at `path` on every SIGHUP until the runtime
    /// ends (Unix; elsewhere this returns at once). Each reload is logged;
    /// a file that cannot be loaded is logged with its reason and the rules
    /// in force stay.
    pub async fn reload_on_hangup(self, path: PathBuf, check: HostCheck) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hup = match signal(SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(target: "caproto::access",
                        "cannot listen for SIGHUP ({e}); {} will not be reloaded", path.display());
                    return;
                }
            };
            while hup.recv().await.is_some() {
                match self.load(&path, check) {
                    Ok(()) => tracing::info!(target: "caproto::access",
                        "SIGHUP: reloaded access security file {}", path.display()),
                    Err(e) => tracing::error!(target: "caproto::access",
                        "SIGHUP: {e}; the previous access rules stay in force"),
                }
            }
        }
        #[cfg(not(unix))]
        let _ = (path, check);
    }

    /// Record a new reading of input `letter` of `group` in the rules of
    /// `generation` (ignored when another file was loaded since). Circuits
    /// recompute their channels' rights only when a rule's standing changed.
    pub fn set_input(&self, generation: u64, group: &str, letter: char, value: Option<f64>) {
        self.tx.send_if_modified(|current| {
            let Some(rules) = current else {
                return false;
            };
            if rules.generation() != generation {
                return false;
            }
            let mut next = AccessRules::clone(rules);
            let changed = next.set_input(group, letter, value);
            *current = Some(Arc::new(next));
            changed
        });
    }

    /// A receiver that sees every replacement (for circuit tasks).
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Arc<AccessRules>>> {
        self.tx.subscribe()
    }
}
