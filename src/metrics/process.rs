//! What the operating system says about this process: CPU time, memory,
//! file descriptors, start time (Linux `/proc`; elsewhere the figures are
//! absent). Read on demand, at a scrape or a stats-PV update, never on a
//! hot path.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// One reading of the process's figures. A figure the system would not
/// give is `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessSample {
    /// User plus system CPU time used so far.
    pub cpu: Option<Duration>,
    /// Resident set size, in bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<u64>,
    /// When the process started.
    pub start_time: Option<SystemTime>,
    /// Threads of the process.
    pub threads: Option<u64>,
}

impl ProcessSample {
    /// Read this process's figures now.
    pub fn read() -> ProcessSample {
        let mut s = ProcessSample::default();
        #[cfg(target_os = "linux")]
        {
            if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
                s.fill_from_stat(&stat, clock_ticks(), page_size(), boot_time());
            }
            s.open_fds = std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64);
            s.max_fds = std::fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|l| soft_limit(&l, "Max open files"));
        }
        s
    }

    /// Fill in from the text of `/proc/PID/stat` (see proc(5)).
    fn fill_from_stat(&mut self, stat: &str, ticks: u64, page: u64, boot: Option<SystemTime>) {
        // The command name is in parentheses and may hold spaces: fields
        // are counted from after its closing parenthesis (field 3 = state).
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let ticks_to_time = |t: u64| Some(Duration::from_secs_f64(t as f64 / ticks as f64));
        if ticks > 0 {
            if let (Some(utime), Some(stime)) = (field(14), field(15)) {
                self.cpu = ticks_to_time(utime + stime);
            }
            if let (Some(start), Some(boot)) = (field(22), boot) {
                self.start_time = ticks_to_time(start).map(|d| boot + d);
            }
        }
        self.threads = field(20);
        self.virtual_bytes = field(23);
        self.resident_bytes = field(24).map(|pages| pages * page);
    }
}

/// The soft limit of `name` in the text of `/proc/PID/limits`.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Memory of the whole host: (total, available) bytes from `/proc/meminfo`.
pub(crate) fn host_memory() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    Some((
        kib("MemTotal:")?,
        kib("MemAvailable:").or_else(|| kib("MemFree:"))?,
    ))
}

#[cfg(target_os = "linux")]
fn boot_time() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let secs: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(target_os = "linux")]
fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

#[cfg(target_os = "linux")]
fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// The standard `process_*` metrics (the names every Prometheus client
/// library uses, so existing dashboards work): CPU seconds, resident and
/// virtual memory, open and maximum file descriptors, start time, threads.
#[derive(Debug, Default)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = ProcessSample::read();
        if let Some(cpu) = s.cpu {
            let c = ConstCounter::new(cpu.as_secs_f64());
            c.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                c.metric_type(),
            )?)?;
        }
        let gauges: [(&str, &str, Option<f64>); 6] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                s.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                s.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                s.max_fds.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                s.start_time
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64()),
            ),
            (
                "process_threads",
                "Number of OS threads in the process",
                s.threads.map(|v| v as f64),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let g = ConstGauge::new(v);
                g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // pid (comm with ") x") state ppid ... as proc(5) lays it out.
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 \
                    1000 123456789 300 18446744073709551615";
        let mut s = ProcessSample::default();
        s.fill_from_stat(stat, 100, 4096, Some(UNIX_EPOCH));
        assert_eq!(s.cpu, Some(Duration::from_secs(3)));
        assert_eq!(s.threads, Some(7));
        assert_eq!(s.start_time, Some(UNIX_EPOCH + Duration::from_secs(10)));
        assert_eq!(s.virtual_bytes, Some(123456789));
        assert_eq!(s.resident_bytes, Some(300 * 4096));
        let mut bad = ProcessSample::default();
        bad.fill_from_stat("garbage", 100, 4096, None);
        assert_eq!(bad, ProcessSample::default());
    }

    #[test]
    fn limits_soft_value() {
        let l = "Limit                     Soft Limit           Hard Limit           Units\n\
                 Max open files            1024                 524288               files\n";
        assert_eq!(soft_limit(l, "Max open files"), Some(1024));
        assert_eq!(soft_limit(l, "Max processes"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures() {
        let s = ProcessSample::read();
        assert!(s.resident_bytes.unwrap() > 0);
        assert!(s.open_fds.unwrap() >= 3);
        let started = s.start_time.unwrap();
        assert!(started <= SystemTime::now() + Duration::from_secs(1));
        assert!(host_memory().unwrap().0 > 0);
    }
}
