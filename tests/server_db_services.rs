//! What caproto-ioc adds to softIoc works for `.db` records as for the
//! examples: access security with a record's ASG and its fields' levels
//! (compared with `softIoc -a` on the same files), per-command logging to a
//! file with a PV filter, `--log-control`, and shipping. Loopback only.

mod common;
mod db_support;
mod server_support;

use std::time::{Duration, Instant};

use common::CaEnv;
use db_support::Pair;

const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
const PUT_EXE: &str = env!("CARGO_BIN_EXE_caproto-put");
const PATIENCE: Duration = Duration::from_secs(30);

const DB: &str = r#"record(ao, "$(P)open") { field(VAL, "1") }
record(ao, "$(P)locked") { field(ASG, "ro") field(VAL, "2") }
record(ao, "$(P)level0") { field(ASG, "lvl") field(VAL, "3") field(HIHI, "9") }
"#;

const ACF: &str = "ASG(DEFAULT) { RULE(1, READ) RULE(1, WRITE) }
ASG(ro) { RULE(1, READ) }
ASG(lvl) { RULE(1, READ) RULE(0, WRITE) }
";

/// A record's ASG picks its group; VAL is level 0 and other fields level 1,
/// so `RULE(0, WRITE)` lets clients write VAL and not HIHI: the same rights
/// and the same caput results as softIoc -a.
#[test]
fn acf_rights_for_db_records_match_softioc() {
    let files = CaEnv::new();
    let db = files.write_file("acf.db", DB);
    let acf = files.write_file("rules.acf", ACF);
    let p = "dsa:";
    let acf_arg = acf.to_str().unwrap();
    let Some(pair) = Pair::start_with(&db, p, "open", &["-a", acf_arg]) else {
        return;
    };
    let pvs: Vec<String> = [
        "open",
        "locked",
        "level0",
        "level0.HIHI",
        "locked.DESC",
        "open.HIHI",
    ]
    .iter()
    .map(|n| format!("{p}{n}"))
    .collect();
    let refs: Vec<&str> = pvs.iter().map(String::as_str).collect();
    let info = pair.same("cainfo", &refs);
    assert_eq!(
        info.iter()
            .filter(|l| *l == "Access: read, no write")
            .count(),
        3,
        "{info:#?}"
    );
    for (pv, v) in [
        ("open", "5"),
        ("locked", "5"),
        ("level0", "5"),
        ("level0.HIHI", "1"),
    ] {
        pair.same("caput", &[&format!("{p}{pv}"), v]);
    }
    pair.same("caget", &refs);
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--log-file` with `--log-pv` records the commands of one record only;
/// `--log-control` moves the filter to another record (and its field
/// channels) at run time; `--log-ship` sends the records to a collector.
#[test]
fn logging_log_control_and_shipping_for_db_records() {
    let env = CaEnv::new();
    let db = env.write_file("log.db", DB);
    let file = env.dir().join("ioc.log");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let ship = format!("syslog+udp://{}", sock.local_addr().unwrap());
    let mut cmd = common::servers::our_ioc_command(&env);
    cmd.arg("-d")
        .arg(&db)
        .args(["-m", "P=dsl:", "-vv", "--log-pv", "dsl:open"]);
    cmd.arg("--log-file").arg(&file);
    cmd.args(["--log-control", "ctl", "--log-ship", &ship]);
    let mut ioc = common::servers::spawn_our_ioc(&env, "caproto-ioc", &mut cmd);
    common::wait_for_server(&env, &mut ioc, "dsl:open");
    let read = || std::fs::read_to_string(&file).unwrap_or_default();
    let get = |pvs: &[&str]| {
        let mut g = env.own(GET_EXE);
        g.arg("--no-repeater").args(pvs);
        let out = env.run(&mut g, PATIENCE);
        assert!(out.success(), "{out}");
    };
    get(&["dsl:open", "dsl:locked"]);
    wait_until("a ReadNotifyResponse of dsl:open in the file", || {
        read()
            .lines()
            .any(|l| l.contains("dsl:open ReadNotifyResponse"))
    });
    assert!(!read().contains("dsl:locked "), "{}", read());

    let mut put = env.own(PUT_EXE);
    put.args(["--no-repeater", "ctl:pv", "dsl:locked*"]);
    let out = env.run(&mut put, PATIENCE);
    assert!(out.success(), "{out}");
    wait_until("the log-control change", || {
        read().contains("ctl:pv set to")
    });
    get(&["dsl:locked", "dsl:locked.DESC"]);
    wait_until("dsl:locked.DESC in the file", || {
        read()
            .lines()
            .any(|l| l.contains("dsl:locked.DESC ReadNotifyResponse"))
    });

    // The collector got records of the database's PVs, RFC 5424 with the PV as data.
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "no shipped record of dsl:open\n{}",
            ioc.log_contents()
        );
        let Ok(n) = sock.recv(&mut buf) else { continue };
        let msg = String::from_utf8_lossy(&buf[..n]);
        if msg.starts_with('<') && msg.contains("pv=\"dsl:open\"") {
            break;
        }
    }
    ioc.assert_running();
}
