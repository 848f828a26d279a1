//! Access security (ACF files) end to end: our `caproto-ioc --acf` against
//! the EPICS tools, and the same ACF file on EPICS `softIoc -a`, which must
//! give every client the same rights. Loopback only, per-test ports.
//!
//! Clients are told apart in two ways: EPICS tools run under OS accounts the
//! test creates (`useradd`, removed again; libca sends the account's name),
//! and our library client names itself (CLIENT_NAME / HOST_NAME from its
//! configuration). Tests that need accounts are skipped, with a message,
//! when not run as root.

mod client_support;
mod common;
mod server_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use caproto::client::{ClientError, Context};
use caproto::proto::command::AccessRights;
use caproto::proto::dbr::Value;

use common::{CaEnv, ChildGuard};
use server_support::{epics, normalized, start_ioc_with, wait_for_output, IOC_EXE};

/// The ACF the comparison tests use: users, hosts, levels of access and a
/// TRAPWRITE rule, spread over the groups of the `thermo` example.
const THERMO_ACF: &str = r#"
# operators write set points from the control room; engineers tune
UAG(ops) {alice, bob}
UAG(eng) {carol}
HAG(ctrl) {CtrlRoom, "console-2"}
ASG(DEFAULT) {
    RULE(1, READ)
}
ASG(SETPOINT) {
    RULE(1, READ)
    RULE(1, WRITE) {
        UAG(ops)
        HAG(ctrl)
    }
    RULE(1, WRITE) { UAG(eng) }
}
ASG(TUNING) {
    RULE(1, READ) { UAG(ops, eng) }
    RULE(1, WRITE, TRAPWRITE) { UAG(eng) }
}
"#;

/// softIoc records standing in for the `thermo` example's PVs, in the same groups.
const THERMO_DB: &str = r#"
record(ao, "$(P)SP") { field(ASG, "SETPOINT") field(VAL, "100") }
record(ao, "$(P)K") { field(ASG, "TUNING") field(VAL, "10") }
record(ai, "$(P)I") { field(VAL, "0") }
"#;

/// (user, host) pairs the comparison tries.
const CLIENTS: &[(&str, &str)] = &[
    ("alice", "CtrlRoom"),
    ("alice", "ctrlroom"),
    ("alice", "CONSOLE-2"),
    ("alice", "elsewhere"),
    ("Alice", "ctrlroom"),
    ("carol", "anywhere"),
    ("mallory", "ctrlroom"),
    ("", ""),
];

fn ar(read: bool, write: bool) -> AccessRights {
    AccessRights { read, write }
}

/// Start our IOC serving `example` under `prefix` with `--acf acf` and extra args.
fn start_ours(
    env: &CaEnv,
    example: &str,
    prefix: &str,
    probe: &str,
    acf: &Path,
    extra: &[&str],
) -> Option<ChildGuard> {
    let mut args = vec!["--acf", acf.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    start_ioc_with(env, example, prefix, probe, &args)
}

/// Start EPICS softIoc with `db` under `prefix`, `-a acf`, and an optional
/// startup script run before iocInit (for `var asCheckClientIP 1`).
fn start_softioc(
    env: &CaEnv,
    db: &str,
    prefix: &str,
    acf: &Path,
    script: Option<&str>,
) -> Option<ChildGuard> {
    let db = env.write_file("access.db", db);
    let mut cmd = env.epics("softIoc")?;
    cmd.arg("-m")
        .arg(format!("P={prefix}"))
        .arg("-a")
        .arg(acf)
        .arg("-d")
        .arg(&db);
    if let Some(text) = script {
        cmd.arg(env.write_file("st.cmd", text));
    }
    cmd.current_dir(env.dir());
    let mut ioc = env.spawn("softIoc", &mut cmd);
    common::wait_for_server(env, &mut ioc, &format!("{prefix}SP"));
    Some(ioc)
}

/// Rights of a client calling itself `user` on `host` on each of `pvs`.
async fn rights_as(env: &CaEnv, user: &str, host: &str, pvs: &[String]) -> Vec<AccessRights> {
    let mut cfg = client_support::config(env, false);
    cfg.client_name = user.into();
    cfg.host_name = host.into();
    let ctx = Context::new(cfg).expect("context starts");
    let mut out = Vec::new();
    for pv in pvs {
        let ch = ctx
            .connect_one(pv, client_support::WAIT)
            .await
            .unwrap_or_else(|e| panic!("{pv}: {e}"));
        out.push(ch.access_rights().expect("connected"));
    }
    ctx.close().await;
    out
}

/// The rights table of every client in `clients` on `pvs`.
async fn table(
    env: &CaEnv,
    clients: &[(&str, &str)],
    pvs: &[String],
) -> Vec<(String, Vec<AccessRights>)> {
    let mut rows = Vec::new();
    for (user, host) in clients {
        let rights = rights_as(env, user, host, pvs).await;
        rows.push((format!("{user}@{host}"), rights));
    }
    rows
}

/// The same ACF and the same clients get the same rights from our IOC as
/// from softIoc, users compared exactly and host names in any case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_acf_same_rights_as_softioc_by_user_and_host_name() {
    let env = CaEnv::new();
    let acf = env.write_file("thermo.acf", THERMO_ACF);
    let pvs: Vec<String> = ["SP", "K", "I"]
        .iter()
        .map(|n| format!("acmp:{n}"))
        .collect();

    let Some(soft) = start_softioc(&env, THERMO_DB, "acmp:", &acf, None) else {
        return;
    };
    let theirs = table(&env, CLIENTS, &pvs).await;
    drop(soft);
    let Some(_ours) = start_ours(&env, "thermo", "acmp:", "SP", &acf, &[]) else {
        return;
    };
    let mut ours = table(&env, CLIENTS, &pvs).await;
    // thermo's readback I is read-only on our side whatever the ACF says;
    // softIoc's ai stand-in is writable, so compare I's read bit only.
    for ((_, o), (_, t)) in ours.iter_mut().zip(&theirs) {
        o[2].write = t[2].write;
    }
    assert_eq!(ours, theirs, "our IOC and softIoc disagree");

    // And the answers are the ones the file means (not, say, all-or-nothing).
    let row = |who: &str| theirs.iter().find(|(w, _)| w == who).unwrap().1.clone();
    let (rw, ro, no) = (ar(true, true), ar(true, false), ar(false, false));
    assert_eq!(row("alice@CtrlRoom")[..2], [rw, ro]);
    assert_eq!(row("alice@CONSOLE-2")[..2], [rw, ro]);
    assert_eq!(row("alice@elsewhere")[..2], [ro, ro]);
    assert_eq!(row("Alice@ctrlroom")[..2], [ro, no]);
    assert_eq!(row("carol@anywhere")[..2], [rw, rw]);
    assert_eq!(row("mallory@ctrlroom")[..3], [ro, no, ro]);
}

/// In client-IP mode (`--acf-client-ip`, softIoc's `asCheckClientIP=1`) the
/// host a client claims is ignored: HAG members are resolved and compared
/// with the address the client connects from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ip_mode_ignores_claimed_host_names_like_softioc() {
    let env = CaEnv::new();
    let acf = env.write_file(
        "ip.acf",
        "HAG(here) {localhost}\nHAG(there) {10.77.1.2, ctrlroom}\n\
         ASG(DEFAULT) { RULE(1, READ) }\n\
         ASG(SETPOINT) { RULE(1, WRITE) { HAG(here) } }\n\
         ASG(TUNING) { RULE(1, READ) RULE(1, WRITE) { HAG(there) } }\n",
    );
    let pvs: Vec<String> = ["SP", "K"].iter().map(|n| format!("aip:{n}")).collect();
    let clients = [("u", "ctrlroom"), ("u", "localhost"), ("u", "elsewhere")];
    let script = "var asCheckClientIP 1\n";
    let Some(soft) = start_softioc(&env, THERMO_DB, "aip:", &acf, Some(script)) else {
        return;
    };
    let theirs = table(&env, &clients, &pvs).await;
    drop(soft);
    let Some(_ours) = start_ours(&env, "thermo", "aip:", "SP", &acf, &["--acf-client-ip"]) else {
        return;
    };
    let ours = table(&env, &clients, &pvs).await;
    assert_eq!(ours, theirs, "our IOC and softIoc disagree");
    for (who, rights) in &ours {
        assert_eq!(rights, &[ar(true, true), ar(true, false)], "{who}");
    }
}

/// An OS account made for one test, removed when dropped.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl TestUser {
    /// `None` (with a SKIPPED message) when accounts cannot be created here;
    /// under `CI` (which runs as root) that is a failure instead.
    fn create(tag: &str) -> Option<TestUser> {
        let name = format!("acf{tag}{}", std::process::id() % 100_000);
        let ok = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin", &name])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            return common::peers::skip(&format!(
                "cannot create OS account {name} (needs root and useradd)"
            ));
        }
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, &name]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        let user = TestUser {
            uid: id("-u").unwrap_or(u32::MAX),
            gid: id("-g").unwrap_or(u32::MAX),
            name,
        };
        assert!(
            user.uid != u32::MAX && user.gid != u32::MAX,
            "useradd made {} but `id` does not know it",
            user.name
        );
        Some(user)
    }

    /// `cmd`, run under this account (same environment and arguments).
    fn wrap(&self, cmd: &Command) -> Command {
        let mut out = Command::new("setpriv");
        out.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => out.env(k, v),
                None => out.env_remove(k),
            };
        }
        out
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// Run EPICS `tool args` as `user`.
fn epics_as(env: &CaEnv, user: &TestUser, tool: &str, args: &[&str]) -> Option<String> {
    let mut cmd = env.epics(tool)?;
    cmd.args(args);
    let out = env.run(&mut user.wrap(&cmd), server_support::CLIENT_TIMEOUT);
    Some(format!("{}{}", out.stdout, out.stderr))
}

fn access_line(cainfo: &str) -> String {
    cainfo
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no Access line in:\n{cainfo}"))
}

/// EPICS caput/cainfo run under an allowed and a refused OS account: the
/// same answers from our IOC and from softIoc, and our IOC put-logs the
/// allowed TRAPWRITE write with user, host, old and new value (on its log
/// and, with `--putlog FILE`, alone in that file).
#[test]
fn epics_tools_as_allowed_and_refused_os_users() {
    let Some(ok) = TestUser::create("w") else {
        return;
    };
    let Some(no) = TestUser::create("r") else {
        return;
    };
    let env = CaEnv::new();
    if !env.ensure_repeater() {
        return;
    }
    let acf = env.write_file(
        "users.acf",
        &format!(
            "UAG(eng) {{{}}}\nASG(DEFAULT) {{ RULE(1, READ) }}\n\
             ASG(TUNING) {{\n RULE(1, READ)\n RULE(1, WRITE, TRAPWRITE) {{ UAG(eng) }}\n}}\n",
            ok.name
        ),
    );
    let host = hostname();
    let mut results = Vec::new();
    for server in ["softIoc", "ours"] {
        let guard = if server == "softIoc" {
            start_softioc(&env, THERMO_DB, "aus:", &acf, None)
        } else {
            let putlog = env.dir().join("put.log");
            start_ours(
                &env,
                "thermo",
                "aus:",
                "SP",
                &acf,
                &["--putlog", putlog.to_str().unwrap()],
            )
        };
        let Some(mut guard) = guard else {
            return;
        };
        let info_ok = epics_as(&env, &ok, "cainfo", &["aus:K"]).unwrap();
        let info_no = epics_as(&env, &no, "cainfo", &["aus:K"]).unwrap();
        let put_ok = epics_as(&env, &ok, "caput", &["-w", "5", "aus:K", "12.5"]).unwrap();
        let put_no = epics_as(&env, &no, "caput", &["-w", "5", "aus:K", "99"]).unwrap();
        let value = epics(&env, "caget", &["-w", "5", "-t", "aus:K"]).unwrap();
        let value = normalized(value.expect_success("caget")).join(" ");
        if server == "ours" {
            // One put-log record, naming who wrote what over what.
            let log = wait_for_output(&mut guard, Duration::from_secs(10), "put log", |l| {
                l.contains("put") && l.contains("new=[12.5]")
            });
            let line = log.lines().find(|l| l.contains("new=[12.5]")).unwrap();
            for field in [
                format!("user={}", ok.name),
                format!("host={}", host.to_ascii_lowercase()),
                "old=[10.0]".to_string(),
                "aus:K".to_string(),
            ] {
                assert!(line.contains(&field), "{field} not in {line}");
            }
            assert_eq!(log.matches("new=[12.5]").count(), 1, "{log}");
            // --putlog: the same record, and only put logs, in a file of its own.
            let file = std::fs::read_to_string(env.dir().join("put.log")).unwrap_or_default();
            let lines: Vec<&str> = file.lines().collect();
            assert_eq!(lines.len(), 1, "put.log:\n{file}");
            assert!(
                lines[0].contains("new=[12.5]") && lines[0].contains(&ok.name),
                "{file}"
            );
        }
        drop(guard);
        results.push((
            access_line(&info_ok),
            access_line(&info_no),
            put_ok.contains("New : aus:K") && put_ok.contains("12.5"),
            put_no.contains("Write access denied"),
            value,
        ));
    }
    assert_eq!(results[0], results[1], "softIoc vs ours");
    assert_eq!(
        results[1],
        (
            "read, write".to_string(),
            "read, no write".to_string(),
            true,
            true,
            "12.5".to_string()
        )
    );
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Rewrite the ACF and send SIGHUP to our IOC.
fn reload(ioc: &ChildGuard, acf: &Path, text: &str) {
    std::fs::write(acf, text).expect("rewrite ACF");
    let ok = Command::new("kill")
        .args(["-HUP", &ioc.pid().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -HUP {}", ioc.pid());
}

async fn wait_rights(ch: &caproto::client::Channel, want: AccessRights) {
    let deadline = Instant::now() + client_support::WAIT;
    while ch.access_rights() != Some(want) {
        assert!(
            Instant::now() < deadline,
            "rights stayed {:?}, wanted {want:?}",
            ch.access_rights()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A reload (SIGHUP) reaches connected clients on their open circuits: our
/// client sees its write access go and come back, a refused put says so, a
/// malformed file leaves the rules as they were, and a connected EPICS
/// camonitor gets the value again when read access returns, without a
/// reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_changes_rights_of_connected_clients() {
    let env = CaEnv::new();
    let open = "ASG(DEFAULT) { RULE(1, WRITE) }\n";
    let acf = env.write_file("reload.acf", open);
    let Some(mut ioc) = start_ours(&env, "simple", "arl:", "A", &acf, &[]) else {
        return;
    };
    let Some(mut monitor_cmd) = env.epics("camonitor") else {
        return;
    };
    monitor_cmd.args(["-t", "n", "arl:B"]);
    let mut monitor = env.spawn("camonitor", &mut monitor_cmd);
    wait_for_output(&mut monitor, client_support::WAIT, "first update", |l| {
        l.contains("arl:B") && l.contains(" 2")
    });

    let ctx = client_support::context(&env);
    let ch = ctx
        .connect_one("arl:A", client_support::WAIT)
        .await
        .unwrap();
    assert_eq!(ch.access_rights(), Some(ar(true, true)));
    ch.put(&Value::Long(vec![5]), true).await.unwrap();

    reload(&ioc, &acf, "ASG(DEFAULT) { RULE(1, READ) }\n");
    wait_rights(&ch, ar(true, false)).await;
    let refused = ch.put(&Value::Long(vec![6]), true).await;
    assert!(
        matches!(refused, Err(ClientError::NoWriteAccess { .. })),
        "{refused:?}"
    );

    // A broken file is refused and logged; the rules in force stay.
    reload(&ioc, &acf, "ASG(DEFAULT) {\n  RULE(1, WRITE\n}\n");
    wait_for_output(&mut ioc, client_support::WAIT, "reload error", |l| {
        l.contains("reload.acf:3") && l.contains("previous access rules stay")
    });
    assert_eq!(ch.access_rights(), Some(ar(true, false)));

    // No access at all, then back: camonitor shows the value again.
    reload(&ioc, &acf, "ASG(DEFAULT)\n");
    wait_rights(&ch, ar(false, false)).await;
    reload(&ioc, &acf, open);
    wait_rights(&ch, ar(true, true)).await;
    ch.put(&Value::Long(vec![7]), true).await.unwrap();
    let log = wait_for_output(
        &mut monitor,
        client_support::WAIT,
        "update after reload",
        |l| l.matches("arl:B").count() >= 2,
    );
    assert!(
        !log.contains("disconnected"),
        "camonitor reconnected:\n{log}"
    );
    assert!(ch.is_connected());
    ctx.close().await;
}

/// A malformed ACF stops the IOC at start-up with file, line and reason.
#[test]
fn malformed_acf_is_refused_at_startup() {
    let env = CaEnv::new();
    let acf = env.write_file(
        "bad.acf",
        "UAG(ops) {alice}\nASG(DEFAULT) {\n    RULE(1, WRITE) { UAG(opz) }\n}\n",
    );
    let mut cmd = env.own(IOC_EXE);
    cmd.args(["simple", "--acf"]).arg(&acf);
    let out = env.run(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("bad.acf:3: no user access group named \"opz\""),
        "{}",
        out.stderr
    );
    let calc = env.write_file(
        "calc.acf",
        "ASG(DEFAULT) {\n RULE(1, WRITE) { CALC(\"A>\") }\n}\n",
    );
    let mut cmd = env.own(IOC_EXE);
    cmd.args(["simple", "--acf"]).arg(&calc);
    let out = env.run(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("calc.acf:2: incomplete expression, operand missing at offset 2 in CALC expression \"A>\""),
        "{}",
        out.stderr
    );
}

/// Host rules with the EPICS tools, which send this machine's host name:
/// a HAG listing it (in another case) grants write, one listing only
/// another host does not; the same answers from softIoc and our IOC.
#[test]
fn epics_tools_and_host_rules() {
    let env = CaEnv::new();
    if !env.ensure_repeater() {
        return;
    }
    let host = hostname();
    let here = env.write_file(
        "here.acf",
        &format!(
            "HAG(here) {{{}}}\nASG(DEFAULT) {{ RULE(1, READ) }}\n\
             ASG(SETPOINT) {{ RULE(1, READ) RULE(1, WRITE) {{ HAG(here) }} }}\n",
            host.to_ascii_uppercase()
        ),
    );
    let there = env.write_file(
        "there.acf",
        "HAG(there) {otherhost}\nASG(DEFAULT) { RULE(1, READ) }\n\
         ASG(SETPOINT) { RULE(1, READ) RULE(1, WRITE) { HAG(there) } }\n",
    );
    let mut seen = Vec::new();
    for server in ["softIoc", "ours"] {
        for acf in [&here, &there] {
            let guard = if server == "softIoc" {
                start_softioc(&env, THERMO_DB, "ahr:", acf, None)
            } else {
                start_ours(&env, "thermo", "ahr:", "SP", acf, &[])
            };
            let Some(guard) = guard else {
                return;
            };
            let info = epics(&env, "cainfo", &["ahr:SP"]).unwrap();
            let put = epics(&env, "caput", &["-w", "5", "ahr:SP", "42"]).unwrap();
            let put = format!("{}{}", put.stdout, put.stderr);
            drop(guard);
            seen.push((
                server,
                access_line(&info.stdout),
                put.contains("New : ahr:SP") && put.contains("42"),
                put.contains("Write access denied"),
            ));
        }
    }
    assert_eq!(
        seen,
        [
            ("softIoc", "read, write".to_string(), true, false),
            ("softIoc", "read, no write".to_string(), false, true),
            ("ours", "read, write".to_string(), true, false),
            ("ours", "read, no write".to_string(), false, true),
        ]
    );
}

/// A reload on softIoc (`asInit` in its shell) and on our IOC (SIGHUP)
/// reaches a connected client the same way: its channel's rights change on
/// the open circuit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_reaches_connected_clients_like_softioc() {
    let env = CaEnv::new();
    let open = "ASG(DEFAULT) { RULE(1, WRITE) }\nASG(SETPOINT) { RULE(1, WRITE) }\n";
    let closed = "ASG(DEFAULT) { RULE(1, WRITE) }\nASG(SETPOINT) { RULE(1, READ) }\n";
    let mut seen = Vec::new();
    for server in ["softIoc", "ours"] {
        let acf = env.write_file("parity.acf", open);
        let guard = if server == "softIoc" {
            start_softioc(&env, THERMO_DB, "apr:", &acf, None)
        } else {
            start_ours(&env, "thermo", "apr:", "SP", &acf, &[])
        };
        let Some(mut guard) = guard else {
            return;
        };
        let ctx = client_support::context(&env);
        let sp = ctx
            .connect_one("apr:SP", client_support::WAIT)
            .await
            .unwrap();
        let k = ctx
            .connect_one("apr:K", client_support::WAIT)
            .await
            .unwrap();
        let before = (sp.access_rights(), k.access_rights());
        if server == "softIoc" {
            std::fs::write(&acf, closed).unwrap();
            guard.send_line("asInit").expect("softIoc shell");
        } else {
            reload(&guard, &acf, closed);
        }
        wait_rights(&sp, ar(true, false)).await;
        let after = (sp.access_rights(), k.access_rights());
        assert!(sp.is_connected() && k.is_connected());
        ctx.close().await;
        drop(guard);
        seen.push((before, after));
    }
    assert_eq!(seen[0], seen[1], "softIoc vs ours");
    let rw = Some(ar(true, true));
    assert_eq!(seen[1], ((rw, rw), (Some(ar(true, false)), rw)));
}

/// ACF `CALC` rules over `INP` links: softIoc and our IOC follow the input
/// PV (here K, on the same server) and give connected clients the same
/// rights as its value moves. A rule reading an input that never connects
/// (B) and a CALC reading no input never apply, as in EPICS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calc_rules_follow_their_inputs_like_softioc() {
    let env = CaEnv::new();
    let acf_text = r#"
ASG(DEFAULT) { INPA("acl:K") RULE(1, READ) { CALC("A<100") } }
ASG(SETPOINT) {
    INPA("acl:K")
    INPB("acl:nosuch")
    RULE(1, READ)
    RULE(1, WRITE) { CALC("A>50 && A<=150") }
    RULE(1, WRITE) { CALC("B=0") }
    RULE(1, WRITE) { CALC("1") }
}
ASG(TUNING) { RULE(1, WRITE) }
"#;
    let acf = env.write_file("calc.acf", acf_text);
    let (rw, ro, no) = (ar(true, true), ar(true, false), ar(false, false));
    // Rights of SP, K and I after K is set to each value (None: at start,
    // K=10). These are softIoc's answers; each server must reach them.
    let steps: [(Option<f64>, [AccessRights; 3]); 5] = [
        (None, [ro, rw, ro]),
        (Some(60.0), [rw, rw, ro]),
        (Some(150.0), [rw, rw, no]),
        (Some(151.0), [ro, rw, no]),
        (Some(99.0), [rw, rw, ro]),
    ];
    for server in ["softIoc", "ours"] {
        let guard = if server == "softIoc" {
            start_softioc(&env, THERMO_DB, "acl:", &acf, None)
        } else {
            start_ours(&env, "thermo", "acl:", "SP", &acf, &[])
        };
        let Some(guard) = guard else {
            return;
        };
        let ctx = client_support::context(&env);
        let mut chans = Vec::new();
        for n in ["SP", "K", "I"] {
            let pv = format!("acl:{n}");
            chans.push(ctx.connect_one(&pv, client_support::WAIT).await.unwrap());
        }
        for (value, want) in steps {
            if let Some(v) = value {
                chans[1].put(&Value::Double(vec![v]), true).await.unwrap();
            }
            // SP and I are in different groups: their ACCESS_RIGHTS come
            // separately, so wait for the whole row.
            let deadline = Instant::now() + client_support::WAIT;
            loop {
                let got: Vec<_> = chans.iter().map(|c| c.access_rights()).collect();
                if got == want.map(Some) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{server}: after K={value:?} rights of SP, K, I are {got:?}, softIoc's are {want:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        ctx.close().await;
        drop(guard);
    }
}

/// caproto's `caproto-put` names itself from `USER` and, unlike libca, sends
/// a write even without write access: our IOC refuses it on the wire with
/// ECA_NOWTACCESS and logs the refusal naming user, host and PV.
#[test]
fn caproto_put_refused_on_the_wire_by_user_name() {
    let env = CaEnv::new();
    let acf = env.write_file(
        "wire.acf",
        "UAG(ops) {alice}\nASG(DEFAULT) { RULE(1, READ) RULE(1, WRITE) { UAG(ops) } }\n",
    );
    let Some(mut ioc) = start_ours(&env, "simple", "awr:", "A", &acf, &[]) else {
        return;
    };
    let put_as = |user: &str, value: &str| -> Option<String> {
        let mut cmd = env.caproto("caproto-put")?;
        cmd.args(["--no-repeater", "awr:A", value])
            .env("USER", user)
            .env("LOGNAME", user);
        let out = env.run(&mut cmd, server_support::CLIENT_TIMEOUT);
        Some(format!("{}{}", out.stdout, out.stderr))
    };
    let Some(allowed) = put_as("alice", "5") else {
        return;
    };
    assert!(
        allowed.contains("[5]") && !allowed.contains("ECA_NOWTACCESS"),
        "{allowed}"
    );
    let refused = put_as("mallory", "6").unwrap();
    assert!(refused.contains("ECA_NOWTACCESS"), "{refused}");
    let log = wait_for_output(&mut ioc, Duration::from_secs(10), "refusal log", |l| {
        l.contains("write refused")
    });
    let line = log.lines().find(|l| l.contains("write refused")).unwrap();
    // At WARN, naming the PV, the user and the host the client declared.
    assert!(line.starts_with("[W "), "not at WARN: {line}");
    for field in [
        "awr:A".to_string(),
        "user=mallory".to_string(),
        format!("host={}", hostname()),
    ] {
        assert!(line.contains(&field), "{field} not in {line}");
    }
    let value = epics(&env, "caget", &["-w", "5", "-t", "awr:A"]);
    if let Some(value) = value {
        assert_eq!(normalized(value.expect_success("caget")), ["5"]);
    }
}

/// `caproto-ioc simple --acf ACF --acf-client-ip` whose resolver asks 127.0.0.1 only: in a
/// mount namespace of its own (`unshare -m`), a resolv.conf naming 127.0.0.1 is bound over
/// `/etc/resolv.conf`, so looking up a name that is not in `/etc/hosts` sends nothing off
/// this host (nothing answers on 127.0.0.1:53: the lookup fails at once). Needs root, as CI.
fn start_ours_with_loopback_resolver(env: &CaEnv, prefix: &str, acf: &Path) -> Option<ChildGuard> {
    let resolv = env.write_file("resolv.conf", "nameserver 127.0.0.1\n");
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c"])
        .arg(format!(
            "mount --bind {} /etc/resolv.conf && exec \"$0\" \"$@\"",
            resolv.display()
        ))
        .arg(IOC_EXE)
        .args(["simple", "--prefix", prefix, "-v", "--acf"])
        .arg(acf)
        .arg("--acf-client-ip");
    env.apply(&mut cmd);
    let mut server = env.spawn("caproto-ioc-unshared", &mut cmd);
    common::wait_for_server(env, &mut server, &format!("{prefix}A"));
    Some(server)
}

/// `--acf-client-ip` resolves HAG members when the file is loaded: a member that does not
/// resolve is logged and matches no client, while a member that does (`localhost`) still
/// matches a client connecting from 127.0.0.1.
#[test]
fn with_acf_client_ip_an_unresolvable_hag_host_is_logged_and_matches_no_client() {
    let env = CaEnv::new();
    let mut seen = Vec::new();
    for (tag, members) in [
        ("both", "localhost, no-such-host.invalid"),
        ("none", "no-such-host.invalid"),
    ] {
        let acf = env.write_file(
            &format!("{tag}.acf"),
            &format!(
                "HAG(writers) {{{members}}}\n\
                 ASG(DEFAULT) {{ RULE(1, READ) RULE(1, WRITE) {{ HAG(writers) }} }}\n"
            ),
        );
        let Some(mut ioc) = start_ours_with_loopback_resolver(&env, "aci:", &acf) else {
            return;
        };
        let Some(info) = epics(&env, "cainfo", &["aci:A"]) else {
            return;
        };
        let log = wait_for_output(
            &mut ioc,
            Duration::from_secs(10),
            "the unresolved member",
            |l| l.contains("no-such-host.invalid"),
        );
        let line = log
            .lines()
            .find(|l| l.contains("no-such-host.invalid"))
            .unwrap()
            .to_owned();
        drop(ioc);
        seen.push((tag, access_line(&info.stdout), line.starts_with("[W ")));
    }
    assert_eq!(
        seen,
        [
            ("both", "read, write".to_string(), true),
            ("none", "read, no write".to_string(), true)
        ],
        "(ACF, cainfo's access, unresolved member logged at WARN)"
    );
}

/// No read access, end to end. EPICS `caget` prints `*** no read access` and `cainfo`
/// `no read, no write` (libca acts on the ACCESS_RIGHTS our server sent). On the wire, a
/// READ_NOTIFY is answered with ECA_NORDACCESS and zeroed data; an EVENT_ADD gets one such
/// update and then nothing while thermo's `I` keeps changing (every 100 ms), until a reload
/// gives read access: ACCESS_RIGHTS first, then an update with ECA_NORMAL.
#[test]
fn no_read_access_gives_nordaccess_zeroed_data_and_gated_monitors() {
    use std::io::{Read, Write};
    const ECA_NORMAL: u32 = 1;
    const ECA_NORDACCESS: u32 = 368;
    let env = CaEnv::new();
    let closed = "ASG(DEFAULT)\nASG(SETPOINT) { RULE(1, READ) }\nASG(TUNING) { RULE(1, READ) }\n";
    let open = "ASG(DEFAULT) { RULE(1, READ) }\nASG(SETPOINT) { RULE(1, READ) }\nASG(TUNING) { RULE(1, READ) }\n";
    let acf = env.write_file("noread.acf", closed);
    let Some(ioc) = start_ours(&env, "thermo", "anr:", "SP", &acf, &[]) else {
        return;
    };
    let Some(get) = epics(&env, "caget", &["-w", "5", "anr:I"]) else {
        return;
    };
    assert!(
        get.stdout.contains("anr:I") && get.stdout.contains("*** no read access"),
        "{get}"
    );
    let info = epics(&env, "cainfo", &["anr:I"]).unwrap();
    assert_eq!(access_line(&info.stdout), "no read, no write", "{info}");

    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", env.server_port())).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let name = common::raw::padded("anr:I");
    let mut hello = common::raw::header(0, 0, 0, 13, 0, 0);
    hello.extend(common::raw::header(18, name.len() as u16, 0, 0, 1, 13));
    hello.extend(name);
    tcp.write_all(&hello).unwrap();
    let mut writer = tcp.try_clone().unwrap();
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    // Messages in arrival order until `done` says stop (inclusive).
    let mut read_until = |done: &dyn Fn(&common::raw::Message) -> bool| {
        let mut seen = Vec::new();
        loop {
            let (msgs, used) = common::raw::messages(&pending);
            pending.drain(..used);
            for m in msgs {
                let last = done(&m);
                seen.push(m);
                if last {
                    return seen;
                }
            }
            let n = tcp.read(&mut buf).expect("the server's answer");
            assert!(n > 0, "the server closed the circuit after {seen:?}");
            pending.extend_from_slice(&buf[..n]);
        }
    };
    let created = read_until(&|m| m.cmd == 18);
    let rights = created.iter().find(|m| m.cmd == 22).expect("ACCESS_RIGHTS");
    assert_eq!(rights.p2, 0, "no read, no write");
    let sid = created.last().unwrap().p2;

    // READ_NOTIFY of one DBR_DOUBLE: ECA_NORDACCESS, data zeroed.
    writer
        .write_all(&common::raw::header(15, 0, 6, 1, sid, 77))
        .unwrap();
    let read = read_until(&|m| m.cmd == 15 && m.p2 == 77);
    let reply = read.last().unwrap();
    assert_eq!(reply.p1, ECA_NORDACCESS, "{reply:?}");
    assert!(
        !reply.payload.is_empty() && reply.payload.iter().all(|b| *b == 0),
        "{reply:?}"
    );

    // EVENT_ADD (DBE_VALUE): one update with ECA_NORDACCESS...
    let mut add = common::raw::header(1, 16, 6, 1, sid, 5);
    add.extend([0u8; 12]);
    add.extend(1u16.to_be_bytes());
    add.extend([0u8; 2]);
    writer.write_all(&add).unwrap();
    let first = read_until(&|m| m.cmd == 1 && m.p2 == 5);
    let first = first.last().unwrap();
    assert_eq!(first.p1, ECA_NORDACCESS, "{first:?}");
    assert!(first.payload.iter().all(|b| *b == 0), "{first:?}");
    // ...then none while `I` changes, until read access comes back with a reload.
    std::thread::sleep(Duration::from_millis(500)); // five changes of I, gated
    reload(&ioc, &acf, open);
    let after = read_until(&|m| m.cmd == 1 && m.p2 == 5);
    let rights_at = after
        .iter()
        .position(|m| m.cmd == 22 && m.p2 & 1 == 1)
        .unwrap_or_else(|| panic!("no ACCESS_RIGHTS with read before the update: {after:?}"));
    assert_eq!(
        rights_at,
        after.len() - 2,
        "messages between the gated update and the rights change: {after:?}"
    );
    assert_eq!(after.last().unwrap().p1, ECA_NORMAL, "{after:?}");
}
