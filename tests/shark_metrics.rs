//! `caproto-shark --metrics` fed a tcpdump capture of loopback traffic
//! through a pipe: the per-command counts it serves agree with the records it
//! decoded (its own `--log-format json` output, counted here), searches for a
//! name nobody serves show as unanswered, and `promtool check metrics` passes
//! on the endpoint's output. Loopback only, this test's ports only.

mod common;
mod metrics_support;
mod server_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::tcpdump::{start_capture, stop_capture};
use common::{ports, CaEnv};
use metrics_support::{http_get, promtool, promtool_check};
use server_support::{epics, start_ioc};

const SHARK: &str = env!("CARGO_BIN_EXE_caproto-shark");
const T: Duration = Duration::from_secs(30);

/// `command` label of a record's command text (`ReadNotifyRequest(...)` ->
/// `read_notify`), as the metrics name CA commands.
fn label_of(command: &str) -> String {
    let name: String = command
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = name
        .strip_suffix("Request")
        .or_else(|| name.strip_suffix("Response"))
        .unwrap_or(&name);
    if base == "Beacon" {
        return "rsrv_is_up".into();
    }
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[test]
fn piped_capture_counts_agree_with_decoded_records() {
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc(&env, "simple", "shm:", "A") else {
        return;
    };
    let file = env.dir().join("traffic.pcap");
    let Some(tcpdump) = start_capture(&env, &file) else {
        return;
    };
    for _ in 0..3 {
        let Some(out) = epics(&env, "caget", &["shm:A", "shm:B", "shm:C"]) else {
            return;
        };
        out.expect_success("caget");
    }
    epics(&env, "caput", &["shm:B", "7.5"])
        .unwrap()
        .expect_success("caput");
    // A name nobody serves: searched, never answered.
    let missing = epics(&env, "caget", &["-w", "0.5", "shm:nobody"]).unwrap();
    assert!(!missing.success());
    // Stopped once the clients' circuits have closed in the file (their last
    // answers come before the server's FIN), with nothing dropped.
    stop_capture(tcpdump, &file);
    let capture = std::fs::read(&file).unwrap();
    assert!(capture.len() > 24, "empty capture");

    let addr = SocketAddr::from(([127, 0, 0, 1], ports::free_tcp_udp_port()));
    let mut cmd = env.own(SHARK);
    cmd.args(["--log-format", "json", "--metrics", &addr.to_string()])
        .args(["--port", &env.server_port().to_string()])
        .args(["--repeater-port", &env.repeater_port().to_string()])
        .args(["--metrics-top", "3", "--metrics-pv", "shm:*"]);
    let mut shark = env.spawn_stderr_apart("caproto-shark", &mut cmd);
    shark.wait_until("metrics served", T, |s| {
        std::fs::read_to_string(s.log_path().with_extension("stderr"))
            .unwrap_or_default()
            .contains("metrics on")
    });
    shark.send_and_close(&capture).unwrap();
    let mut last = String::new();
    let text = shark
        .wait_for(T, |_| {
            let text = http_get(addr, "/metrics", "text/plain");
            if text.contains("\ncaproto_shark_input_finished 1\n") {
                return Some(text);
            }
            last = text;
            None
        })
        .unwrap_or_else(|| panic!("input never finished:\n{last}"));

    // The records it printed, counted by command label and sender role.
    let mut decoded: BTreeMap<(String, String), u64> = BTreeMap::new();
    for line in shark.log_contents().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let (Some(cmd), Some(role)) = (v["command"].as_str(), v["role"].as_str()) else {
            continue;
        };
        *decoded
            .entry((label_of(cmd), role.to_string()))
            .or_default() += 1;
    }
    assert!(decoded.len() > 5, "few records: {decoded:?}");
    let mut served: BTreeMap<(String, String), u64> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("caproto_shark_messages_total{"))
    {
        let (labels, n) = line.rsplit_once(' ').unwrap();
        let n: u64 = n.parse().unwrap();
        let label = |k: &str| {
            let start = labels.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
            labels[start..].split('"').next().unwrap().to_string()
        };
        if n > 0 {
            served.insert((label("command"), label("sender")), n);
        }
    }
    assert_eq!(served, decoded, "metrics vs records\n{text}");
    // Nine reads by caget, two by caput (the value before and after its write).
    for (cmd, want) in [("read_notify", 11), ("write", 1)] {
        assert_eq!(
            decoded.get(&(cmd.into(), "client".into())),
            Some(&want),
            "{decoded:?}"
        );
    }
    assert!(
        text.contains("\ncaproto_shark_search_names_unanswered 1\n"),
        "{text}"
    );
    assert!(
        text.contains("caproto_shark_pv_messages_total{pv=\"shm:B\"} "),
        "{text}"
    );
    if let Some(promtool) = promtool() {
        promtool_check(&promtool, &text);
    }
    let status = shark.terminate(Duration::from_secs(10));
    assert!(status.is_some(), "shark did not stop on SIGTERM");
}
