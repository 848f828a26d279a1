//! caproto-info against EPICS `cainfo` (and `caget -d DBR_CTRL_*` for the
//! metadata lines) on the same PVs: served by softIoc and by our caproto-ioc.

mod common;
mod tools_support;

use common::{CaEnv, ChildGuard};
use tools_support::{ours, ours_ok, Tool, RUN};

/// softIoc with an ai (units, limits), an mbbi, a waveform and a read-only
/// ai (access security), under `prefix`.
fn softioc(env: &CaEnv, prefix: &str) -> Option<ChildGuard> {
    let acf = env.write_file(
        "info.acf",
        "ASG(DEFAULT) { RULE(1, READ) RULE(1, WRITE) }\nASG(RO) { RULE(1, READ) }\n",
    );
    let ro = env.write_file(
        "ro.db",
        "record(ai, \"$(P)ro\") { field(VAL, \"1.25\") field(EGU, \"K\") field(PREC, \"1\") field(ASG, \"RO\") }\n",
    );
    let mut cmd = env.epics("softIoc")?;
    cmd.arg("-a")
        .arg(&acf)
        .args(["-m", &format!("P={prefix}")])
        .arg("-d")
        .arg(common::ioc_db())
        .arg("-d")
        .arg(&ro)
        .current_dir(env.dir());
    let mut ioc = env.spawn("softIoc", &mut cmd);
    common::wait_for_server(env, &mut ioc, &format!("{prefix}ro"));
    Some(ioc)
}

fn our_ioc(env: &CaEnv, prefix: &str) -> ChildGuard {
    let mut cmd = common::servers::our_ioc_command(env);
    cmd.args(["type_varieties", "--prefix", prefix]);
    let mut ioc = common::servers::spawn_our_ioc(env, "caproto-ioc", &mut cmd);
    common::wait_for_server(env, &mut ioc, &format!("{prefix}ai"));
    ioc
}

fn cainfo(env: &CaEnv, pvs: &[String]) -> Option<String> {
    let mut cmd = env.epics("cainfo")?;
    cmd.args(["-w", "10"]).args(pvs);
    Some(env.run(&mut cmd, RUN).expect_success("cainfo").to_string())
}

/// caget's lines for `-d DBR_CTRL_<type>` from `Status:` on (caget also
/// prints the value, which caproto-info does not).
fn caget_ctrl(env: &CaEnv, pv: &str, native: &str) -> Option<Vec<String>> {
    let mut cmd = env.epics("caget")?;
    cmd.args(["-w", "10", "-d", &format!("DBR_CTRL_{native}"), pv]);
    let out = env
        .run(&mut cmd, RUN)
        .expect_success("caget -d")
        .to_string();
    Some(
        out.lines()
            .skip_while(|l| !l.trim_start().starts_with("Status:"))
            .map(str::to_owned)
            .collect(),
    )
}

fn ours_ctrl(env: &CaEnv, pv: &str) -> Vec<String> {
    ours_ok(env, Tool::Info, &["-d", "ctrl", pv])
        .lines()
        .skip(7)
        .map(str::to_owned)
        .collect()
}

fn compare(env: &CaEnv, pvs: &[String], ctrl: &[(&str, &str)]) {
    let names: Vec<&str> = pvs.iter().map(String::as_str).collect();
    let ours = ours_ok(env, Tool::Info, &names);
    let Some(theirs) = cainfo(env, pvs) else {
        return;
    };
    let theirs = with_resolved_hosts(&theirs, &ours);
    tools_support::assert_lines_eq(&ours, &theirs, "caproto-info vs cainfo");
    for (pv, native) in ctrl {
        let Some(theirs) = caget_ctrl(env, pv, native) else {
            return;
        };
        assert_eq!(ours_ctrl(env, pv), theirs, "-d ctrl lines of {pv}");
    }
}

/// cainfo's output with each `Host:` line that shows 127.0.0.1 replaced by
/// ours when ours shows `localhost` on the same port. libca turns the
/// server's address into a name on a background thread and prints the
/// numeric address until that lookup has answered, so cainfo prints either
/// (a run in five printed 127.0.0.1 in CI-like load); every other line
/// must still match exactly.
fn with_resolved_hosts(theirs: &str, ours: &str) -> String {
    fn host(line: &str) -> Option<&str> {
        line.trim_start().strip_prefix("Host:").map(str::trim)
    }
    let mut out: Vec<&str> = Vec::new();
    for (i, line) in theirs.lines().enumerate() {
        let ours_line = ours.lines().nth(i);
        let resolved = match (host(line), ours_line.and_then(host)) {
            (Some(t), Some(o)) => {
                t.strip_prefix("127.0.0.1:").is_some()
                    && o.strip_prefix("localhost:") == t.strip_prefix("127.0.0.1:")
            }
            _ => false,
        };
        out.push(if resolved {
            ours_line.unwrap_or(line)
        } else {
            line
        });
    }
    let mut joined = out.join("\n");
    if theirs.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

#[test]
fn cainfo_hosts_compare_resolved_or_not() {
    let ours = "x\n    Host:             localhost:5064\n    Host:             localhost:5064\n";
    let theirs = "x\n    Host:             127.0.0.1:5064\n    Host:             127.0.0.1:5065\n";
    assert_eq!(
        with_resolved_hosts(theirs, ours),
        "x\n    Host:             localhost:5064\n    Host:             127.0.0.1:5065\n",
        "only the same port, and only 127.0.0.1 for localhost"
    );
}

#[test]
fn matches_cainfo_on_softioc() {
    let env = CaEnv::new();
    let Some(_ioc) = softioc(&env, "ti1:") else {
        return;
    };
    let pvs: Vec<String> = ["ai", "mbbi", "wave_d", "ro", "longin", "stringin"]
        .iter()
        .map(|r| format!("ti1:{r}"))
        .collect();
    let ours = ours_ok(&env, Tool::Info, &["ti1:ro"]);
    assert!(ours.contains("Access:           read, no write"), "{ours}");
    compare(
        &env,
        &pvs,
        &[
            ("ti1:ai", "DOUBLE"),
            ("ti1:mbbi", "ENUM"),
            ("ti1:longin", "LONG"),
            ("ti1:ro", "DOUBLE"),
        ],
    );
}

#[test]
fn matches_cainfo_on_our_ioc() {
    let env = CaEnv::new();
    if !common::peers::has_epics() {
        common::peers::missing::<()>("EPICS base", &common::peers::peers_dir());
        return;
    }
    let _ioc = our_ioc(&env, "ti2:");
    let pvs: Vec<String> = ["ai", "enum", "double_array", "ro_double", "short"]
        .iter()
        .map(|r| format!("ti2:{r}"))
        .collect();
    compare(
        &env,
        &pvs,
        &[
            ("ti2:ai", "DOUBLE"),
            ("ti2:enum", "ENUM"),
            ("ti2:short", "SHORT"),
        ],
    );
}

#[test]
fn json_and_exit_status() {
    let env = CaEnv::new();
    let Some(_ioc) = softioc(&env, "ti3:") else {
        return;
    };
    let out = ours_ok(&env, Tool::Info, &["--format", "json", "-v", "ti3:ai"]);
    assert!(
        out.starts_with("{\"pv\":\"ti3:ai\",\"state\":\"connected\","),
        "{out}"
    );
    assert!(out.contains("\"units\":\"mm\",\"precision\":3"), "{out}");
    assert!(out.contains("\"upper_ctrl_limit\":100}"), "{out}");
    // A missing PV: exit 1, reported on stderr and as a JSON error object,
    // and the found one still printed.
    let run = ours(
        &env,
        Tool::Info,
        &["-w", "3", "--format", "json", "ti3:nothere", "ti3:ai"],
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0].contains("\"state\":\"not found\""), "{}", lines[0]);
    assert!(lines[1].contains("\"pv\":\"ti3:ai\""), "{}", lines[1]);
    assert!(run.stderr.contains("ti3:nothere"), "{}", run.stderr);
    // Bad arguments: 2.
    let run = ours(&env, Tool::Info, &["-d", "nonsense", "ti3:ai"]);
    assert_eq!(run.status.and_then(|s| s.code()), Some(2), "{run:?}");
}

/// The `Host:` line comes from `/etc/hosts`, with no DNS query: under strace, caproto-info
/// opens `/etc/hosts`, never opens `/etc/resolv.conf` and never sends to or connects to a
/// port 53; the host shows as `localhost:PORT` (127.0.0.1 is `localhost` in `/etc/hosts`).
#[test]
fn host_name_from_etc_hosts_without_a_dns_query() {
    let Some(strace) = ["/usr/bin/strace", "/bin/strace"]
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.is_file())
        .or_else(|| common::peers::missing("strace", std::path::Path::new("/usr/bin/strace")))
    else {
        return;
    };
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    assert!(
        hosts.lines().any(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some("127.0.0.1") && w.any(|n| n == "localhost")
        }),
        "this test needs `127.0.0.1 localhost` in /etc/hosts:\n{hosts}"
    );
    let env = CaEnv::new();
    let _ioc = our_ioc(&env, "th:");
    let trace = env.dir().join("info.strace");
    let mut cmd = std::process::Command::new(strace);
    cmd.args([
        "-f",
        "-e",
        "trace=openat,open,connect,sendto,sendmsg,sendmmsg",
        "-o",
    ])
    .arg(&trace)
    .arg(Tool::Info.our_exe())
    .args(["--no-repeater", "th:ai"]);
    env.apply(&mut cmd);
    let out = env.run(&mut cmd, RUN);
    let text = out.expect_success("caproto-info under strace");
    assert!(
        text.lines()
            .any(|l| l.trim() == format!("Host:             localhost:{}", env.server_port())),
        "{text}"
    );
    let calls = std::fs::read_to_string(&trace).unwrap();
    assert!(
        calls.contains("\"/etc/hosts\""),
        "/etc/hosts never opened:\n{calls}"
    );
    assert!(
        !calls.contains("resolv.conf"),
        "resolver configuration read:\n{calls}"
    );
    assert!(
        !calls.contains("sin_port=htons(53)"),
        "a DNS query was sent:\n{calls}"
    );
}
