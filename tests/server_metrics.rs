//! `caproto-ioc --metrics` scraped by a real Prometheus while EPICS tools
//! drive traffic, checked through Prometheus's own HTTP API; the exposition
//! passes `promtool check metrics`; `--stats` PVs read with EPICS caget follow
//! the clients that come and go. Loopback only, per-test ports.

mod common;
mod metrics_support;
mod server_support;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use common::{ports, CaEnv};
use metrics_support::{http_get, promtool, promtool_check, Prometheus};
use server_support::{epics, spawn_client, start_ioc_with, wait_for_output, CLIENT_TIMEOUT};

const READS: &str = "caproto_server_requests_total{job=\"caproto\",command=\"read_notify\"}";
const CLIENTS: &str = "caproto_server_clients{job=\"caproto\"}";

fn metrics_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], ports::free_tcp_udp_port()))
}

#[test]
fn prometheus_sees_reads_and_clients_come_and_go() {
    let env = CaEnv::new();
    let addr = metrics_addr();
    let a = addr.to_string();
    let Some(_ioc) = start_ioc_with(&env, "simple", "met:", "A", &["--metrics", &a]) else {
        return;
    };
    let Some(prom) = Prometheus::start(&env, addr) else {
        return;
    };
    // Prometheus asks for OpenMetrics first: `up` is 1 only if it parsed it.
    assert_eq!(
        prom.wait_value("up{job=\"caproto\"}", SystemTime::now(), |v| v == 1.0),
        1.0
    );

    // Reads: the counter grows by exactly the reads made between two scrapes.
    let before = prom.fresh_value(READS, SystemTime::now());
    let pvs = ["met:A", "met:B", "met:C", "met:A", "met:B"];
    let runs = 3;
    for _ in 0..runs {
        let Some(out) = epics(&env, "caget", &pvs) else {
            return;
        };
        out.expect_success("caget");
    }
    let made = (pvs.len() * runs) as f64;
    let after = prom.fresh_value(READS, SystemTime::now());
    assert_eq!(after - before, made, "reads counted {before} -> {after}");

    // Clients: two camonitors come, one goes, then the other.
    let no_clients = prom.fresh_value(CLIENTS, SystemTime::now());
    assert_eq!(no_clients, 0.0);
    let mut monitors = Vec::new();
    for n in 1..=2 {
        let Some(mut cmd) = env.epics("camonitor") else {
            return;
        };
        cmd.arg("met:A");
        let mut m = spawn_client(&env, &format!("camonitor-{n}"), &mut cmd);
        wait_for_output(&mut m, CLIENT_TIMEOUT, "camonitor output", |o| {
            o.contains("met:A")
        });
        monitors.push(m);
        let seen = prom.wait_value(CLIENTS, SystemTime::now(), |v| v == n as f64);
        assert_eq!(seen, n as f64);
    }
    for left in [1.0, 0.0] {
        let mut m = monitors.pop().unwrap();
        m.kill();
        let seen = prom.wait_value(CLIENTS, SystemTime::now(), |v| v == left);
        assert_eq!(seen, left);
    }
    // The peak is in Prometheus's history too.
    let peak = prom.query(&format!("max_over_time({CLIENTS}[5m])"));
    assert_eq!(peak[0].2, 2.0, "{peak:?}");
}

/// A collector that takes NDJSON log records on a loopback port and drops them.
fn sink_collector() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut &conn, &mut std::io::sink());
            });
        }
    });
    addr
}

#[test]
fn exposition_passes_promtool_and_answers_openmetrics() {
    let env = CaEnv::new();
    let addr = metrics_addr();
    let a = addr.to_string();
    let ship = format!("tcp://{}", sink_collector());
    let args = ["--metrics", &a, "--log-ship", &ship];
    let Some(_ioc) = start_ioc_with(&env, "simple", "lint:", "A", &args) else {
        return;
    };
    let Some(promtool) = promtool() else {
        return;
    };
    let text = http_get(addr, "/metrics", "text/plain");
    promtool_check(&promtool, &text);
    for name in [
        "caproto_server_clients",
        "caproto_server_channels",
        "caproto_server_requests_total{command=\"read_notify\"}",
        "caproto_server_received_bytes_total{transport=\"tcp\"}",
        "caproto_server_search_requests_total",
        "caproto_server_beacons_sent_total",
        "caproto_server_access_denials_total{operation=\"write\"}",
        "caproto_server_putlog_records_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            text.contains(&format!("\n{name} ")),
            "{name} missing:\n{text}"
        );
    }
    // The shipping handler's records (INFO: listening, ready, clients) reach the collector.
    let shipped = format!("caproto_log_records_shipped_total{{destination=\"{ship}\"}} ");
    let queue = format!("caproto_log_ship_queue_records{{destination=\"{ship}\"}} ");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = http_get(addr, "/metrics", "text/plain");
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix(shipped.as_str()))
            .map(|n| n.parse::<u64>().unwrap());
        if n.is_some_and(|n| n > 0) {
            assert!(text.contains(&queue), "{text}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing shipped:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let om = http_get(
        addr,
        "/metrics",
        "application/openmetrics-text;version=1.0.0",
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(
        om.contains("# TYPE caproto_server_requests counter\n"),
        "{om}"
    );
}

/// The value caget prints for `pv` (`caget -t`).
fn caget(env: &CaEnv, pv: &str) -> Option<String> {
    let out = epics(env, "caget", &["-t", pv])?;
    Some(out.expect_success("caget").trim().to_string())
}

/// Poll `pv` with caget until its value satisfies `ok` (the PVs update once
/// a second); panics after a deadline.
fn caget_until(env: &CaEnv, pv: &str, ok: impl Fn(&str) -> bool) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = caget(env, pv)?;
        if ok(&v) {
            return Some(v);
        }
        assert!(std::time::Instant::now() < deadline, "{pv} stayed at {v:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn stats_pvs_follow_clients_and_time() {
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc_with(&env, "simple", "st:", "A", &["--stats", "IOCST"]) else {
        return;
    };
    // A caget is a client for a few milliseconds: the once-a-second update
    // almost never sees it, and the waits below look for exact values.
    let Some(alone) = caget_until(&env, "IOCST:CA_CLNT_CNT", |v| v == "0") else {
        return;
    };
    assert_eq!(alone, "0");
    let Some(mut cmd) = env.epics("camonitor") else {
        return;
    };
    cmd.args(["st:A", "st:B"]);
    let mut m = spawn_client(&env, "camonitor", &mut cmd);
    wait_for_output(&mut m, CLIENT_TIMEOUT, "camonitor output", |o| {
        o.contains("st:B")
    });
    caget_until(&env, "IOCST:CA_CLNT_CNT", |v| v == "1");
    // The monitor's two channels.
    caget_until(&env, "IOCST:CA_CONN_CNT", |v| v == "2");
    m.kill();
    caget_until(&env, "IOCST:CA_CLNT_CNT", |v| v == "0");
    caget_until(&env, "IOCST:CA_CONN_CNT", |v| v == "0");

    let up1 = caget(&env, "IOCST:UPTIME").unwrap();
    assert!(up1.starts_with("0 days, 00:"), "{up1}");
    let up2 = caget_until(&env, "IOCST:UPTIME", |v| v != up1).unwrap();
    assert!(up2 > up1, "UPTIME went from {up1} to {up2}");

    let host = nix_hostname();
    assert_eq!(caget(&env, "IOCST:HOSTNAME").unwrap(), host);
    let fds: f64 = caget(&env, "IOCST:FD_CNT").unwrap().parse().unwrap();
    let max: f64 = caget(&env, "IOCST:FD_MAX").unwrap().parse().unwrap();
    assert!(fds >= 3.0 && max > fds, "FD_CNT {fds} FD_MAX {max}");
    let mem: f64 = caget(&env, "IOCST:MEM_USED").unwrap().parse().unwrap();
    assert!(mem > 1e6, "MEM_USED {mem}");
    let load: f64 = caget(&env, "IOCST:IOC_CPU_LOAD").unwrap().parse().unwrap();
    assert!((0.0..=100.0).contains(&load), "IOC_CPU_LOAD {load}");
    // Units and alarm limits as devIocStats sets them.
    let info = epics(
        &env,
        "caget",
        &["-d", "DBR_CTRL_DOUBLE", "IOCST:CA_CLNT_CNT"],
    )
    .unwrap();
    let info = info.expect_success("caget -d");
    for want in [
        "Hi alarm limit: 175",
        "Hi warn limit: 100",
        "Hi disp limit: 200",
    ] {
        let squeezed = info.split_whitespace().collect::<Vec<_>>().join(" ");
        let want = want.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squeezed.contains(&want), "{want} not in {info}");
    }
    let start = caget(&env, "IOCST:STARTTOD").unwrap();
    assert_eq!(start.len(), "12/06/2026 05:13:38".len(), "{start}");
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}
