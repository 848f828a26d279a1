//! A log file that can be reopened (after logrotate renamed it, on SIGHUP) and can rotate itself
//! by size: `PATH` → `PATH.1` → ... → `PATH.N`, the oldest deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::LogError;

/// Size-based rotation of a log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a write would make the file larger than this many bytes.
    pub max_size: u64,
    /// Rotated files kept (`PATH.1` newest .. `PATH.keep` oldest); 0 truncates in place.
    pub keep: u32,
}

struct Open {
    file: File,
    size: u64,
}

/// An open log file.
pub(crate) struct LogFile {
    path: PathBuf,
    rotation: Option<Rotation>,
    open: Mutex<Open>,
}

fn open_append(path: &Path) -> Result<Open, LogError> {
    let err = |source| LogError::OpenFile {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    let size = file.metadata().map_err(err)?.len();
    Ok(Open { file, size })
}

fn io_err(e: LogError) -> io::Error {
    match e {
        LogError::OpenFile { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

impl LogFile {
    /// Opens `path` for appending (created if missing).
    pub fn open(path: &Path, rotation: Option<Rotation>) -> Result<LogFile, LogError> {
        Ok(LogFile {
            path: path.to_owned(),
            rotation,
            open: Mutex::new(open_append(path)?),
        })
    }

    /// The path as configured.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        crate::sync::lock(&self.open)
    }

    /// Appends one whole line, rotating first if it would pass the size limit.
    pub fn write_line(&self, line: &[u8]) -> io::Result<()> {
        let mut o = self.lock();
        if let Some(r) = self.rotation {
            if o.size > 0 && o.size + line.len() as u64 > r.max_size {
                self.rotate(&mut o, r)?;
            }
        }
        o.file.write_all(line)?;
        o.size += line.len() as u64;
        Ok(())
    }

    /// Flushes (our writes are unbuffered; this is for the OS-level contract of `Write`).
    pub fn flush(&self) -> io::Result<()> {
        self.lock().file.flush()
    }

    /// Opens `path` anew: after an external rename (logrotate), records go to a fresh file at
    /// the configured path instead of following the renamed one.
    pub fn reopen(&self) -> io::Result<()> {
        let fresh = open_append(&self.path).map_err(io_err)?;
        *self.lock() = fresh;
        Ok(())
    }

    fn rotate(&self, o: &mut Open, r: Rotation) -> io::Result<()> {
        if r.keep == 0 {
            o.file.set_len(0)?;
            o.size = 0;
            return Ok(());
        }
        let numbered = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        for i in (1..r.keep).rev() {
            match fs::rename(numbered(i), numbered(i + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(&self.path, numbered(1))?;
        *o = open_append(&self.path).map_err(io_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("caproto-logfile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn rotates_by_size_and_keeps_n() {
        let d = dir("rot");
        let p = d.join("x.log");
        let f = LogFile::open(
            &p,
            Some(Rotation {
                max_size: 10,
                keep: 2,
            }),
        )
        .unwrap();
        for l in [
            "aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n",
        ] {
            f.write_line(l.as_bytes()).unwrap();
        }
        let read = |s: &str| fs::read_to_string(d.join(s)).unwrap_or_default();
        assert_eq!(read("x.log"), "gggg\n");
        assert_eq!(read("x.log.1"), "eeee\nffff\n");
        assert_eq!(read("x.log.2"), "cccc\ndddd\n");
        assert!(!d.join("x.log.3").exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn reopen_follows_the_path_not_the_renamed_file() {
        let d = dir("reopen");
        let p = d.join("x.log");
        let f = LogFile::open(&p, None).unwrap();
        f.write_line(b"old\n").unwrap();
        fs::rename(&p, d.join("x.log.1")).unwrap();
        f.write_line(b"still old\n").unwrap();
        f.reopen().unwrap();
        f.write_line(b"new\n").unwrap();
        assert_eq!(
            fs::read_to_string(d.join("x.log.1")).unwrap(),
            "old\nstill old\n"
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "new\n");
        let _ = fs::remove_dir_all(&d);
    }
}
