//! devIocStats-style health PVs (`caproto-ioc --stats PREFIX`), under the
//! names facilities already archive and alarm on: `PREFIX:CA_CLNT_CNT`,
//! `PREFIX:UPTIME`, `PREFIX:MEM_USED`, ... with devIocStats's types (its
//! `ai` records are DOUBLE, its `stringin` records STRING, its `waveform`
//! of CHAR a CHAR array), units, precision, display and alarm limits.
//!
//! How it is driven: [`stats_group`] builds the PVs and a start-up task that,
//! once the server runs, reads the server's [`ServerMetrics`] and the
//! process's figures ([`ProcessSample`], `/proc`) every [`UPDATE_PERIOD`] and
//! posts each value that changed, with the alarm its limits give. The PVs
//! are read-only. `docs/metrics.md` lists them with their meaning.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::metrics::process::host_memory;
use crate::metrics::{ProcessSample, ServerMetrics};
use crate::proto::dbr::Value;
use crate::proto::status::{AlarmSeverity, AlarmStatus};
use crate::server::{Pv, PvGroup, PvHandle};

/// How often the PVs are refreshed (devIocStats: 1 s for UPTIME, 10 to
/// 20 s for the rest; reading a few `/proc` files a second costs nothing).
pub const UPDATE_PERIOD: Duration = Duration::from_secs(1);

/// The format of `STARTTOD` and `TOD` (devIocStats's default TODFORMAT).
pub const TOD_FORMAT: &str = "%m/%d/%Y %H:%M:%S";

/// Alarm limits of a numeric PV, as an `ai` record's LOLO/LOW/HIGH/HIHI
/// (`None`: that limit is not set).
#[derive(Clone, Copy, Debug, Default)]
struct Limits {
    lolo: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    hihi: Option<f64>,
}

impl Limits {
    const NONE: Limits = Limits {
        lolo: None,
        low: None,
        high: None,
        hihi: None,
    };

    const fn upper(high: f64, hihi: f64) -> Limits {
        Limits {
            lolo: None,
            low: None,
            high: Some(high),
            hihi: Some(hihi),
        }
    }

    const fn lower(lolo: f64, low: f64) -> Limits {
        Limits {
            lolo: Some(lolo),
            low: Some(low),
            high: None,
            hihi: None,
        }
    }

    /// The alarm an `ai` record would raise for `v` (HIHI/LOLO major,
    /// HIGH/LOW minor).
    fn alarm(&self, v: f64) -> (AlarmStatus, AlarmSeverity) {
        let over = |l: Option<f64>| l.is_some_and(|l| v >= l);
        let under = |l: Option<f64>| l.is_some_and(|l| v <= l);
        if over(self.hihi) {
            (AlarmStatus::HIHI, AlarmSeverity::MAJOR)
        } else if under(self.lolo) {
            (AlarmStatus::LOLO, AlarmSeverity::MAJOR)
        } else if over(self.high) {
            (AlarmStatus::HIGH, AlarmSeverity::MINOR)
        } else if under(self.low) {
            (AlarmStatus::LOW, AlarmSeverity::MINOR)
        } else {
            (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM)
        }
    }
}

/// One numeric PV and the value last posted to it.
struct Numeric {
    pv: PvHandle,
    limits: Limits,
    last: Option<f64>,
}

impl Numeric {
    fn update(&mut self, v: Option<f64>) {
        let Some(v) = v else { return };
        if self.last == Some(v) {
            return;
        }
        self.last = Some(v);
        let (status, severity) = self.limits.alarm(v);
        let _ = self.pv.post_alarm(v, status, severity);
    }
}

/// The numeric stats PVs: (name, description, units, precision, display
/// high, limits), as devIocStats's `ioc.template` sets them.
const NUMERIC: [(&str, &str, &str, i16, f64, Limits); 15] = [
    (
        "CA_CLNT_CNT",
        "Number of CA Clients",
        "",
        0,
        200.0,
        Limits::upper(100.0, 175.0),
    ),
    (
        "CA_CONN_CNT",
        "Number of CA Connections",
        "",
        0,
        5000.0,
        Limits::upper(4000.0, 4500.0),
    ),
    ("RECORD_CNT", "Number of Records", "", 0, 0.0, Limits::NONE),
    ("FD_MAX", "Max File Descriptors", "", 0, 0.0, Limits::NONE),
    (
        "FD_CNT",
        "Allocated File Descriptors",
        "",
        0,
        0.0,
        Limits::NONE,
    ),
    (
        "FD_FREE",
        "Available FDs",
        "",
        0,
        150.0,
        Limits::lower(5.0, 20.0),
    ),
    (
        "SYS_CPU_LOAD",
        "System CPU Load",
        "%",
        1,
        100.0,
        Limits::upper(70.0, 80.0),
    ),
    (
        "IOC_CPU_LOAD",
        "IOC CPU Load",
        "%",
        1,
        100.0,
        Limits::upper(70.0, 80.0),
    ),
    ("CPU_CNT", "Number of CPUs", "", 0, 0.0, Limits::NONE),
    ("MEM_USED", "Allocated Memory", "byte", 0, 0.0, Limits::NONE),
    ("MEM_FREE", "Free Memory", "byte", 0, 0.0, Limits::NONE),
    ("MEM_MAX", "Maximum Memory", "byte", 0, 0.0, Limits::NONE),
    ("PROCESS_ID", "Process ID", "", 0, 0.0, Limits::NONE),
    ("PARENT_ID", "Parent Process ID", "", 0, 0.0, Limits::NONE),
    (
        "HEARTBEAT",
        "1 Hz counter since startup",
        "",
        0,
        0.0,
        Limits::NONE,
    ),
];

/// Indexes into [`NUMERIC`].
#[derive(Clone, Copy)]
enum N {
    ClntCnt,
    ConnCnt,
    RecordCnt,
    FdMax,
    FdCnt,
    FdFree,
    SysCpu,
    IocCpu,
    CpuCnt,
    MemUsed,
    MemFree,
    MemMax,
    ProcessId,
    ParentId,
    Heartbeat,
}

/// The PVs `--stats PREFIX` serves, under `PREFIX:`: the server's client
/// and channel counts come from `metrics`, `RECORD_CNT` is `records` (the
/// other PVs the IOC hosts) plus these, the rest from the process and the host.
pub fn stats_group(prefix: &str, metrics: Arc<ServerMetrics>, records: usize) -> PvGroup {
    let mut group = PvGroup::new(format!("{prefix}:"));
    let mut numeric: Vec<Numeric> = NUMERIC
        .iter()
        .map(|(name, _desc, units, prec, hopr, limits)| {
            let mut pv = Pv::new(*name, 0.0f64)
                .read_only()
                .units(units)
                .precision(*prec)
                .record_type("ai");
            if *hopr > 0.0 {
                pv = pv.display_limits(0.0, *hopr);
            }
            let l = |x: Option<f64>| x.unwrap_or(0.0);
            pv = pv.alarm_limits(
                l(limits.lolo),
                l(limits.low),
                l(limits.high),
                l(limits.hihi),
            );
            Numeric {
                pv: group.add(pv),
                limits: *limits,
                last: None,
            }
        })
        .collect();
    let text = |group: &mut PvGroup, name: &str, value: String| {
        group.add(Pv::new(name, value).read_only().record_type("stringin"))
    };
    let started = metrics.start_time();
    let tod = |t: SystemTime| {
        chrono::DateTime::<chrono::Local>::from(t)
            .format(TOD_FORMAT)
            .to_string()
    };
    text(&mut group, "STARTTOD", tod(started));
    let now_pv = text(&mut group, "TOD", tod(SystemTime::now()));
    let uptime_pv = text(&mut group, "UPTIME", uptime(Duration::ZERO));
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    text(&mut group, "HOSTNAME", host);
    text(&mut group, "KERNEL_VERS", kernel_version());
    text(
        &mut group,
        "EPICS_VERS",
        format!("caproto-rs {}", env!("CARGO_PKG_VERSION")),
    );
    for (name, var) in [("ENGINEER", "ENGINEER"), ("LOCATION", "LOCATION")] {
        text(&mut group, name, std::env::var(var).unwrap_or_default());
    }
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let mut dir = dir.into_bytes();
    dir.truncate(159);
    dir.push(0);
    group.add(
        Pv::new("APP_DIR", Value::Char(dir))
            .max_count(160)
            .read_only()
            .record_type("waveform"),
    );

    numeric[N::RecordCnt as usize].update(Some((records + group.pvs().len()) as f64));
    numeric[N::ProcessId as usize].update(Some(f64::from(std::process::id())));
    numeric[N::ParentId as usize].update(Some(f64::from(std::os::unix::process::parent_id())));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    numeric[N::CpuCnt as usize].update(Some(cpus as f64));

    let mut load = CpuLoad::default();
    group.on_startup(async move {
        let mut tick = tokio::time::interval(UPDATE_PERIOD);
        let mut beats = 0f64;
        loop {
            tick.tick().await;
            let n = |i: N| i as usize;
            numeric[n(N::ClntCnt)].update(Some(metrics.clients() as f64));
            numeric[n(N::ConnCnt)].update(Some(metrics.channels() as f64));
            let p = ProcessSample::read();
            numeric[n(N::FdMax)].update(p.max_fds.map(|v| v as f64));
            numeric[n(N::FdCnt)].update(p.open_fds.map(|v| v as f64));
            if let (Some(max), Some(open)) = (p.max_fds, p.open_fds) {
                numeric[n(N::FdFree)].update(Some(max.saturating_sub(open) as f64));
            }
            numeric[n(N::MemUsed)].update(p.resident_bytes.map(|v| v as f64));
            if let Some((total, free)) = host_memory() {
                numeric[n(N::MemMax)].update(Some(total as f64));
                numeric[n(N::MemFree)].update(Some(free as f64));
            }
            let (ioc, sys) = load.sample(Instant::now(), p.cpu, cpus);
            numeric[n(N::IocCpu)].update(ioc.map(round1));
            numeric[n(N::SysCpu)].update(sys.map(round1));
            beats += 1.0;
            numeric[n(N::Heartbeat)].update(Some(beats));
            let up = SystemTime::now()
                .duration_since(started)
                .unwrap_or_default();
            let _ = uptime_pv.post(uptime(up));
            let _ = now_pv.post(tod(SystemTime::now()));
        }
    });
    group
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// devIocStats's UPTIME text: `D days, HH:MM:SS`.
pub fn uptime(up: Duration) -> String {
    let s = up.as_secs();
    let (days, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    format!("{days} days, {h:02}:{m:02}:{sec:02}")
}

fn kernel_version() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Some(os), Some(rel)) => format!("{os} {rel}"),
        _ => std::env::consts::OS.to_string(),
    }
}

/// CPU use between two samples: this process's share of all CPUs, and the
/// whole system's (from `/proc/stat`), in percent.
#[derive(Default)]
struct CpuLoad {
    last: Option<CpuReading>,
}

/// When, this process's CPU time then, and the system's (busy, total) jiffies.
type CpuReading = (Instant, Duration, Option<(u64, u64)>);

impl CpuLoad {
    fn sample(
        &mut self,
        now: Instant,
        cpu: Option<Duration>,
        cpus: usize,
    ) -> (Option<f64>, Option<f64>) {
        let Some(cpu) = cpu else {
            return (None, None);
        };
        let sys = system_ticks();
        let out = match self.last {
            Some((then, was, sys_was)) => {
                let wall = now.duration_since(then).as_secs_f64() * cpus as f64;
                let ioc = (wall > 0.0)
                    .then(|| (cpu.saturating_sub(was).as_secs_f64() / wall * 100.0).min(100.0));
                let sys = match (sys_was, sys) {
                    (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
                        Some((busy1 - busy0) as f64 / (total1 - total0) as f64 * 100.0)
                    }
                    _ => None,
                };
                (ioc, sys)
            }
            None => (None, None),
        };
        self.last = Some((now, cpu, sys));
        out
    }
}

/// (busy, total) jiffies of all CPUs, from the first line of `/proc/stat`.
fn system_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_line(stat.lines().next()?)
}

fn parse_cpu_line(line: &str) -> Option<(u64, u64)> {
    let mut f = line.split_whitespace();
    if f.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = f.filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some((total.saturating_sub(idle), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_like_dev_ioc_stats() {
        assert_eq!(uptime(Duration::from_secs(5)), "0 days, 00:00:05");
        assert_eq!(
            uptime(Duration::from_secs(2 * 86400 + 3723)),
            "2 days, 01:02:03"
        );
    }

    #[test]
    fn alarm_limits_as_an_ai_record() {
        let clients = NUMERIC[N::ClntCnt as usize].5;
        assert_eq!(clients.alarm(3.0).1, AlarmSeverity::NO_ALARM);
        assert_eq!(
            clients.alarm(100.0),
            (AlarmStatus::HIGH, AlarmSeverity::MINOR)
        );
        assert_eq!(
            clients.alarm(180.0),
            (AlarmStatus::HIHI, AlarmSeverity::MAJOR)
        );
        let fds = NUMERIC[N::FdFree as usize].5;
        assert_eq!(fds.alarm(10.0), (AlarmStatus::LOW, AlarmSeverity::MINOR));
        assert_eq!(fds.alarm(2.0), (AlarmStatus::LOLO, AlarmSeverity::MAJOR));
        assert_eq!(Limits::NONE.alarm(-5.0).1, AlarmSeverity::NO_ALARM);
    }

    #[test]
    fn names_match_the_index_enum() {
        assert_eq!(NUMERIC[N::Heartbeat as usize].0, "HEARTBEAT");
        assert_eq!(NUMERIC[N::MemFree as usize].0, "MEM_FREE");
        assert_eq!(NUMERIC[N::IocCpu as usize].0, "IOC_CPU_LOAD");
    }

    #[test]
    fn cpu_line() {
        assert_eq!(
            parse_cpu_line("cpu  100 0 50 800 50 0 0 0 0 0"),
            Some((150, 1000))
        );
        assert_eq!(parse_cpu_line("cpu0 1 2 3 4"), None);
    }
}
