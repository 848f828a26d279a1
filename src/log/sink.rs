//! Where a handler's lines go: standard error, a file, any writer, or a collector.
//!
//! Each record is written whole, straight through to the OS (no user-space buffer), so nothing
//! is lost when the process exits, panics or is interrupted. A write error (closed pipe, full
//! disk) stops that destination for good instead of crashing or retrying on every record; a
//! failing file says so once on standard error.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::file::{LogFile, Rotation};
use super::ship::{ShipStats, ShipTarget, Shipper};
use super::LogError;

/// A shareable writer for [`Destination::Writer`] (tests capture logs in memory with it).
pub type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// Where a handler writes.
#[derive(Clone)]
pub enum Destination {
    /// Standard error (the default: tool output on stdout stays pipeable).
    Stderr,
    /// A file, opened for appending (created if missing) when the handler is configured.
    File(PathBuf),
    /// Any writer; never coloured unless colour is forced.
    Writer(SharedWriter),
    /// A log collector, through a bounded queue and a background writer thread.
    Ship(ShipTarget),
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Stderr => f.write_str("Stderr"),
            Destination::File(p) => f.debug_tuple("File").field(p).finish(),
            Destination::Writer(_) => f.write_str("Writer(..)"),
            Destination::Ship(t) => write!(f, "Ship({t})"),
        }
    }
}

enum Target {
    Stderr,
    File(LogFile),
    Writer(SharedWriter),
    Ship {
        shipper: Shipper,
        flush_timeout: std::time::Duration,
    },
}

/// An opened destination.
pub(crate) struct Sink {
    target: Target,
    broken: AtomicBool,
}

impl Sink {
    /// Opens the destination (the file now, so a bad path fails at start-up).
    #[cfg(test)]
    pub fn open(dest: &Destination) -> Result<Sink, LogError> {
        Self::open_with(
            dest,
            super::ship::DEFAULT_QUEUE_CAPACITY,
            super::ship::DEFAULT_FLUSH_TIMEOUT,
            None,
        )
    }

    /// Opens the destination; a shipping destination gets a queue of `capacity` records and
    /// flushes wait at most `flush_timeout`; a file rotates by `rotation`.
    pub fn open_with(
        dest: &Destination,
        capacity: usize,
        flush_timeout: std::time::Duration,
        rotation: Option<Rotation>,
    ) -> Result<Sink, LogError> {
        let target = match dest {
            Destination::Ship(t) => Target::Ship {
                shipper: Shipper::start(t.clone(), capacity).map_err(LogError::StartShipper)?,
                flush_timeout,
            },
            Destination::Stderr => Target::Stderr,
            Destination::Writer(w) => Target::Writer(Arc::clone(w)),
            Destination::File(path) => Target::File(LogFile::open(path, rotation)?),
        };
        Ok(Sink {
            target,
            broken: AtomicBool::new(false),
        })
    }

    /// Whether this is standard error (the only destination that may be a terminal).
    pub fn is_stderr(&self) -> bool {
        matches!(self.target, Target::Stderr)
    }

    /// Reopens a file destination at its path (after logrotate renamed it); a failure stops
    /// the destination like a failed write. Other destinations ignore it.
    pub fn reopen(&self) {
        if let Target::File(f) = &self.target {
            // A file that failed before gets another chance: the disk may have been freed.
            match f.reopen() {
                Ok(()) => self.broken.store(false, Ordering::Relaxed),
                Err(e) => {
                    self.broken.store(false, Ordering::Relaxed);
                    self.fail(&e)
                }
            }
        }
    }

    /// The shipping destination and its counters, if this is one.
    pub fn ship_stats(&self) -> Option<(&ShipTarget, ShipStats)> {
        match &self.target {
            Target::Ship { shipper, .. } => Some((shipper.target(), shipper.stats())),
            _ => None,
        }
    }

    /// Writes one whole line; on failure marks the sink broken and stays silent afterwards.
    pub fn write_line(&self, line: &[u8]) {
        if self.broken.load(Ordering::Relaxed) {
            return;
        }
        let result = match &self.target {
            Target::Stderr => io::stderr().lock().write_all(line),
            Target::File(f) => f.write_line(line),
            Target::Writer(w) => match w.lock() {
                Ok(mut w) => w.write_all(line),
                Err(_) => Err(io::Error::other("log writer lock poisoned")),
            },
            Target::Ship { shipper, .. } => {
                shipper.push(line);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.fail(&e);
        }
    }

    /// Flushes whatever the destination buffers (our own writes are never held back).
    pub fn flush(&self) {
        if self.broken.load(Ordering::Relaxed) {
            return;
        }
        let result = match &self.target {
            Target::Stderr => io::stderr().lock().flush(),
            Target::File(f) => f.flush(),
            Target::Writer(w) => w.lock().map_or(Ok(()), |mut w| w.flush()),
            Target::Ship {
                shipper,
                flush_timeout,
            } => {
                // Bounded: an unreachable collector must not hold the program at exit.
                shipper.flush(*flush_timeout);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.fail(&e);
        }
    }

    fn fail(&self, e: &io::Error) {
        if self.broken.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Target::File(f) = &self.target {
            let path = f.path();
            // Best effort: stderr may be closed too, and then there is nobody to tell.
            let _ = writeln!(
                io::stderr().lock(),
                "caproto: writing log file {} failed ({e}); logging to it stopped",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that always fails, like a closed pipe.
    struct Closed(usize);
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn broken_writer_stops_without_panicking() {
        let w = Arc::new(Mutex::new(Closed(0)));
        let sink = Sink::open(&Destination::Writer(w.clone())).unwrap();
        sink.write_line(b"one\n");
        sink.write_line(b"two\n");
        sink.flush();
        assert_eq!(w.lock().unwrap().0, 1, "second write must not be attempted");
    }

    #[test]
    fn unopenable_file_is_an_error() {
        let err = Sink::open(&Destination::File("/nonexistent-dir/x/log.txt".into()))
            .err()
            .expect("must fail");
        assert!(
            err.to_string().contains("/nonexistent-dir/x/log.txt"),
            "{err}"
        );
    }
}
