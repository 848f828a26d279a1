//! Helpers for `server_db*`: serve one `.db` file to softIoc and to our
//! `caproto-ioc -d`, each on its own loopback ports, and run the same EPICS
//! tool against both so a test compares their output, timestamps aside.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{self, CaEnv, ChildGuard};
use crate::server_support::{normalized, wait_for_output};

/// The database both servers load (macro `P`).
pub fn records_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records.db")
}

/// softIoc and caproto-ioc serving the same file, each in its own env.
pub struct Pair {
    /// softIoc's env (ports, repeater, temp dir).
    pub soft_env: CaEnv,
    /// caproto-ioc's env.
    pub ours_env: CaEnv,
    soft: ChildGuard,
    ours: ChildGuard,
}

/// Which server a run goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// EPICS softIoc.
    Soft,
    /// Our caproto-ioc.
    Ours,
}

impl Pair {
    /// Start both on `db` with `P=prefix` and wait until `<prefix><probe>` answers on each.
    /// `None` (after SKIPPED, or a panic under CI) without EPICS base.
    pub fn start(db: &Path, prefix: &str, probe: &str) -> Option<Pair> {
        Pair::start_with(db, prefix, probe, &[])
    }

    /// As [`Pair::start`], with `extra` arguments for both (softIoc's flags,
    /// which caproto-ioc shares, e.g. `-a FILE`).
    pub fn start_with(db: &Path, prefix: &str, probe: &str, extra: &[&str]) -> Option<Pair> {
        let soft_env = CaEnv::new();
        let mut cmd = soft_env.epics("softIoc")?;
        cmd.args(extra)
            .args(["-m", &format!("P={prefix}")])
            .arg("-d")
            .arg(db)
            .current_dir(soft_env.dir());
        let mut soft = soft_env.spawn("softIoc", &mut cmd);
        common::wait_for_server(&soft_env, &mut soft, &format!("{prefix}{probe}"));
        let ours_env = CaEnv::new();
        let mut cmd = common::servers::our_ioc_command(&ours_env);
        cmd.args(extra)
            .arg("-d")
            .arg(db)
            .args(["-m", &format!("P={prefix}"), "-v"]);
        let mut ours = common::servers::spawn_our_ioc(&ours_env, "caproto-ioc-db", &mut cmd);
        common::wait_for_server(&ours_env, &mut ours, &format!("{prefix}{probe}"));
        Some(Pair {
            soft_env,
            ours_env,
            soft,
            ours,
        })
    }

    /// The env of one side.
    pub fn env(&self, side: Side) -> &CaEnv {
        match side {
            Side::Soft => &self.soft_env,
            Side::Ours => &self.ours_env,
        }
    }

    /// Run an EPICS tool on one side; its stdout and stderr, normalized
    /// ([`comparable`]). Failures are output too: softIoc's refusals are
    /// compared like its answers.
    pub fn run(&self, side: Side, tool: &str, args: &[&str]) -> Vec<String> {
        let mut cmd = self
            .env(side)
            .epics(tool)
            .expect("EPICS base was found when the servers started");
        cmd.args(args);
        let out = self.env(side).run(&mut cmd, Duration::from_secs(20));
        assert!(!out.timed_out, "{out}");
        comparable(&format!("{}{}", out.stdout, out.stderr))
    }

    /// Run the same tool on both sides and assert the outputs are equal
    /// (and that softIoc found every PV); returns them.
    pub fn same(&self, tool: &str, args: &[&str]) -> Vec<String> {
        let soft = self.run(Side::Soft, tool, args);
        // Two identical failures to connect would compare equal and prove nothing.
        assert!(
            !soft.iter().any(|l| l.contains("not found")),
            "{tool} {args:?}: softIoc does not serve every PV asked: {soft:#?}"
        );
        let ours = self.run(Side::Ours, tool, args);
        assert_eq!(
            ours, soft,
            "{tool} {args:?}: caproto-ioc (left) differs from softIoc (right)\n--- caproto-ioc log ---\n{}",
            self.ours.log_contents()
        );
        soft
    }

    /// A long-running camonitor on one side, with `args`.
    pub fn camonitor(&self, side: Side, args: &[&str]) -> ChildGuard {
        let env = self.env(side);
        let mut cmd = env.epics("camonitor").expect("EPICS base present");
        cmd.args(args);
        env.spawn_stderr_apart(&format!("camonitor-{side:?}"), &mut cmd)
    }

    /// caproto-ioc's log so far.
    pub fn ours_log(&self) -> String {
        self.ours.log_contents()
    }
}

/// Wait until `mon` has printed `lines` lines; its lines, comparable.
pub fn monitor_lines(mon: &mut ChildGuard, lines: usize, what: &str) -> Vec<String> {
    let log = wait_for_output(mon, Duration::from_secs(30), what, |log| {
        comparable(log).len() >= lines
    });
    comparable(&log)
}

/// Each PV's lines in order (camonitor interleaves PVs in the order events
/// reach it; within one PV the order is the server's).
pub fn by_pv(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines {
        let pv = l.split(' ').next().unwrap_or_default().to_string();
        map.entry(pv).or_default().push(l.clone());
    }
    map
}

/// Output lines with whitespace runs collapsed, timestamps
/// (`2026-12-06 05:02:37.152188`) replaced by `TS`, cainfo's `Host:` line
/// (the port) masked, and the EPICS tools' noise about duplicate address
/// list entries dropped.
pub fn comparable(text: &str) -> Vec<String> {
    normalized(text)
        .into_iter()
        .filter(|l| !l.contains("Duplicate EPICS CA Address list entry"))
        .filter(|l| !l.contains("no version information available"))
        .map(|l| {
            // cainfo's server address differs by port only.
            if l.starts_with("Host: ") {
                "Host: <server>".to_string()
            } else {
                replace_stamps(&l)
            }
        })
        .collect()
}

fn replace_stamps(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let is_date = |w: &str| w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-';
        let is_time = |w: &str| w.len() >= 8 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b':';
        if i + 1 < words.len() && is_date(words[i]) && is_time(words[i + 1]) {
            out.push("TS");
            i += 2;
        } else {
            out.push(words[i]);
            i += 1;
        }
    }
    out.join(" ")
}
