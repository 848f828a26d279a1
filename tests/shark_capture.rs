//! caproto-shark on real traffic: `tcpdump` captures loopback (this test's ports only) while
//! EPICS caget/caput/camonitor and our tools talk to softIoc and to our caproto-ioc. Checked:
//! - every CA message in the capture is decoded (counted by an independent walker below);
//! - command for command, the records agree with what our clients and our server logged
//!   themselves (`--log-file` JSON) for every circuit of theirs in the capture;
//! - caproto's caproto-shark, when installed with dpkt, decodes no more messages than we do.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::tcpdump::{start_capture, stop_capture};
use common::CaEnv;

const SHARK: &str = env!("CARGO_BIN_EXE_caproto-shark");
const GET: &str = env!("CARGO_BIN_EXE_caproto-get");
const PUT: &str = env!("CARGO_BIN_EXE_caproto-put");
const MONITOR: &str = env!("CARGO_BIN_EXE_caproto-monitor");
const T: Duration = Duration::from_secs(20);

/// Counts the CA messages of a capture without the code under test: legacy pcap,
/// Ethernet, IPv4; TCP flows reassembled by sequence number, headers walked.
fn count_messages(file: &Path) -> (usize, usize) {
    let b = std::fs::read(file).unwrap();
    assert_eq!(
        &b[..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "tcpdump writes LE pcap"
    );
    assert_eq!(
        u32::from_le_bytes(b[20..24].try_into().unwrap()),
        1,
        "Ethernet"
    );
    let u16be = |s: &[u8]| u16::from_be_bytes([s[0], s[1]]) as usize;
    let u32be = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
    let walk = |mut s: &[u8]| {
        let mut n = 0;
        while s.len() >= 16 {
            let (mut size, mut hl) = (u16be(&s[2..]), 16);
            if size == 0xFFFF {
                size = u32be(&s[16..]) as usize;
                hl = 24;
            }
            if s.len() < hl + size {
                break;
            }
            s = &s[hl + size..];
            n += 1;
        }
        n
    };
    // (source, destination) -> (first data sequence number, segments by sequence number)
    type Flow = (Option<u32>, BTreeMap<u32, Vec<u8>>);
    let mut flows: BTreeMap<(Vec<u8>, Vec<u8>), Flow> = BTreeMap::new();
    let (mut tcp, mut udp) = (0, 0);
    let mut off = 24;
    while off + 16 <= b.len() {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        let f = &b[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        if u16be(&f[12..]) != 0x0800 {
            continue;
        }
        let ip = &f[14..];
        let ihl = usize::from(ip[0] & 15) * 4;
        let total = u16be(&ip[2..]);
        let (proto, l4) = (ip[9], &ip[ihl..total]);
        let key = (
            [&ip[12..16], &l4[..2]].concat(),
            [&ip[16..20], &l4[2..4]].concat(),
        );
        if proto == 17 {
            udp += walk(&l4[8..]);
        } else if proto == 6 {
            let seq = u32be(&l4[4..]);
            let data = &l4[usize::from(l4[12] >> 4) * 4..];
            let flow = flows.entry(key).or_default();
            if l4[13] & 0x02 != 0 {
                flow.0 = Some(seq.wrapping_add(1));
            } else if !data.is_empty() {
                flow.1.entry(seq).or_insert_with(|| data.to_vec());
            }
        }
    }
    for (_, (isn, segs)) in flows {
        let isn = isn.expect("every flow of the test starts inside the capture");
        let mut ordered: Vec<(u32, Vec<u8>)> = segs
            .into_iter()
            .map(|(s, d)| (s.wrapping_sub(isn), d))
            .collect();
        ordered.sort();
        let mut stream = Vec::new();
        for (o, d) in ordered {
            let o = o as usize;
            if o + d.len() > stream.len() {
                stream.extend_from_slice(&d[stream.len().saturating_sub(o)..]);
            }
        }
        tcp += walk(&stream);
    }
    (tcp, udp)
}

/// One per-command record: (sender, receiver, command name, pv, bytes).
type Key = (String, String, String, String, u64);

fn key_of(v: &serde_json::Value) -> Option<Key> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    if s("target") != "caproto::circ" {
        return None;
    }
    let (ours, theirs) = (s("our_addr"), s("their_addr"));
    let (from, to) = if s("direction") == "send" {
        (ours, theirs)
    } else {
        (theirs, ours)
    };
    let cmd = s("command");
    let name = cmd.split('(').next().unwrap_or("").to_owned();
    Some((from, to, name, s("pv"), v.get("bytes")?.as_u64()?))
}

fn json_records(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs our caproto-shark on the capture: JSON records and stderr.
fn shark(env: &CaEnv, file: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, String) {
    let mut cmd = env.own(SHARK);
    cmd.arg(file).args(["--log-format", "json"]).args(extra);
    let out = env.run(&mut cmd, T);
    let stdout = out.expect_success("caproto-shark").to_owned();
    (json_records(&stdout), out.stderr)
}

/// caproto's caproto-shark message count (it needs dpkt: a missing dpkt is a missing peer,
/// so an error under CI). caproto-shark must exit 0: a crash is not "0 messages".
fn caproto_shark_count(file: &Path) -> Option<usize> {
    let exe = common::caproto_bin("caproto-shark")?;
    let python = common::caproto_python()?;
    let ok = Command::new(&python)
        .args(["-c", "import dpkt"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return common::peers::missing("dpkt (for caproto-shark)", &python);
    }
    let out = Command::new(exe)
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .expect("run caproto-shark");
    assert!(
        out.status.success(),
        "caproto-shark failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter(|l| {
                let mut w = l.split(' ');
                w.next().is_some_and(|t| t.parse::<f64>().is_ok())
                    && w.next().is_some_and(|a| a.contains("->"))
            })
            .count(),
    )
}

/// Every record our own process logged about its circuits must appear in shark's output,
/// and shark must show nothing else on those circuits.
fn assert_agree(
    who: &str,
    own_log: &Path,
    ours: &str,
    shark_recs: &[serde_json::Value],
    is_client: bool,
) {
    let text = std::fs::read_to_string(own_log).unwrap_or_default();
    let own: Vec<Key> = json_records(&text).iter().filter_map(key_of).collect();
    assert!(!own.is_empty(), "{who} logged no circuit records");
    // Circuits of this process that the capture saw from their start.
    let in_capture: std::collections::HashSet<(String, String)> = shark_recs
        .iter()
        .filter_map(key_of)
        .map(|k| if k.0 < k.1 { (k.0, k.1) } else { (k.1, k.0) })
        .collect();
    let pair = |k: &Key| {
        if k.0 < k.1 {
            (k.0.clone(), k.1.clone())
        } else {
            (k.1.clone(), k.0.clone())
        }
    };
    let mut want: HashMap<Key, i64> = HashMap::new();
    let mut circuits = std::collections::HashSet::new();
    for k in own
        .iter()
        .filter(|k| k.0.contains(ours) || k.1.contains(ours))
    {
        if in_capture.contains(&pair(k)) {
            circuits.insert(pair(k));
            *want.entry(k.clone()).or_default() += 1;
        }
    }
    assert!(
        !circuits.is_empty(),
        "{who}: none of its circuits in the capture: own {:?}, captured {in_capture:?}",
        own.iter()
            .map(pair)
            .collect::<std::collections::HashSet<_>>()
    );
    for k in shark_recs.iter().filter_map(key_of) {
        if circuits.contains(&pair(&k)) {
            *want.entry(k).or_default() -= 1;
        }
    }
    // Our clients close the socket right after sending their last EVENT_CANCEL and
    // CLEAR_CHANNEL requests, without reading the server's answers: those are on the wire
    // (decoded) but never logged by them. Anything else must agree exactly.
    let unread = |k: &Key, n: i64| {
        is_client && n < 0 && matches!(k.2.as_str(), "ClearChannelResponse" | "EventCancelResponse")
    };
    let diff: Vec<_> = want
        .into_iter()
        .filter(|(k, n)| *n != 0 && !unread(k, *n))
        .collect();
    assert!(
        diff.is_empty(),
        "{who}: records that differ (+ logged by {who} only, - decoded only): {diff:#?}"
    );
}

fn check_counts(file: &Path, recs: &[serde_json::Value]) {
    let (tcp, udp) = count_messages(file);
    let circ = recs
        .iter()
        .filter(|r| r["target"] == "caproto::circ")
        .count();
    let bcast = recs
        .iter()
        .filter(|r| {
            r["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("caproto::bcast"))
        })
        .count();
    assert!(
        tcp > 20 && udp > 2,
        "capture too small: {tcp} TCP, {udp} UDP messages"
    );
    assert_eq!((circ, bcast), (tcp, udp), "decoded vs counted (TCP, UDP)");
    if let Some(theirs) = caproto_shark_count(file) {
        eprintln!("messages: ours {}, caproto-shark {theirs}", tcp + udp);
        assert!(theirs > 0, "caproto-shark decoded nothing");
        assert!(
            tcp + udp >= theirs,
            "caproto-shark decoded more: {theirs} > {}",
            tcp + udp
        );
    }
}

#[test]
fn epics_tools_and_ours_against_softioc() {
    let env = CaEnv::new();
    let Some(_ioc) = common::softioc_fixture(&env, "sk:") else {
        return;
    };
    let file = env.dir().join("softioc.pcap");
    let Some(cap) = start_capture(&env, &file) else {
        return;
    };
    let epics = |tool: &str, args: &[&str], t: Duration| {
        let mut c = env.epics(tool).unwrap();
        c.args(args);
        env.run(&mut c, t)
    };
    epics("caget", &["sk:ai", "sk:ao"], T).expect_success("caget");
    epics("caput", &["sk:ao", "7.25"], T).expect_success("caput");
    let _ = epics("camonitor", &["sk:ai"], Duration::from_secs(1));
    let log_get = env.dir().join("get.json");
    let mut c = env.own(GET);
    c.args([
        "-vvv",
        "--log-format",
        "json",
        "--no-repeater",
        "--log-file",
    ])
    .arg(&log_get)
    .args(["sk:ai", "sk:ao"]);
    env.run(&mut c, T).expect_success("caproto-get");
    let log_put = env.dir().join("put.json");
    let mut c = env.own(PUT);
    c.args([
        "-vvv",
        "--log-format",
        "json",
        "--no-repeater",
        "--log-file",
    ])
    .arg(&log_put)
    .args(["sk:ao", "3.5"]);
    env.run(&mut c, T).expect_success("caproto-put");
    stop_capture(cap, &file);

    let port = env.server_port().to_string();
    let rport = env.repeater_port().to_string();
    let (recs, stderr) = shark(&env, &file, &["--port", &port, "--repeater-port", &rport]);
    assert!(
        stderr.trim().is_empty(),
        "problems on a clean capture: {stderr}"
    );
    check_counts(&file, &recs);
    assert_agree("caproto-get", &log_get, "127.0.0.1", &recs, true);
    assert_agree("caproto-put", &log_put, "127.0.0.1", &recs, true);
    // PV names on every channel record of EPICS caput's circuit, from its CREATE_CHAN.
    let puts: Vec<_> = recs
        .iter()
        .filter(|r| {
            r["command"].as_str().is_some_and(|c| {
                c.starts_with("WriteNotifyRequest") || c.starts_with("WriteRequest")
            })
        })
        .collect();
    assert!(puts.len() >= 2, "{puts:?}");
    assert!(puts.iter().all(|r| r["pv"] == "sk:ao"), "{puts:?}");
    // The filter: only sk:ai records (plus records without a PV) survive --log-pv.
    let (only, _) = shark(&env, &file, &["--port", &port, "--log-pv", "sk:ai"]);
    assert!(only.iter().any(|r| r["pv"] == "sk:ai"));
    assert!(only
        .iter()
        .all(|r| r.get("pv").is_none() || r["pv"] == "sk:ai"));
    assert!(only.iter().all(|r| r["capture_time"].is_number()));
    // --log-role server keeps the responses only.
    let (servers, _) = shark(&env, &file, &["--port", &port, "--log-role", "server"]);
    assert!(!servers.is_empty() && servers.iter().all(|r| r["role"] == "server"));
}

#[test]
fn epics_tools_and_ours_against_our_ioc() {
    let env = CaEnv::new();
    let server_log = env.dir().join("ioc.json");
    let mut cmd = common::servers::our_ioc_command(&env);
    cmd.args([
        "simple",
        "--prefix",
        "sq:",
        "-vvv",
        "--log-format",
        "json",
        "--log-file",
    ])
    .arg(&server_log);
    let mut ioc = common::servers::spawn_our_ioc(&env, "caproto-ioc", &mut cmd);
    if !common::peers::has_epics() {
        let _ = common::peers::missing::<()>("EPICS base", &common::peers::peers_dir());
        return;
    }
    common::wait_for_server(&env, &mut ioc, "sq:A");
    let file = env.dir().join("ioc.pcap");
    let Some(cap) = start_capture(&env, &file) else {
        return;
    };
    let epics = |tool: &str, args: &[&str], t: Duration| {
        let mut c = env.epics(tool).unwrap();
        c.args(args);
        env.run(&mut c, t)
    };
    epics("caget", &["sq:A", "sq:C"], T).expect_success("caget");
    epics("caput", &["sq:B", "5"], T).expect_success("caput");
    let _ = epics("camonitor", &["sq:A"], Duration::from_secs(1));
    let log_mon = env.dir().join("mon.json");
    let mut c = env.own(MONITOR);
    c.args([
        "-vvv",
        "--log-format",
        "json",
        "--no-repeater",
        "--log-file",
    ])
    .arg(&log_mon)
    .args(["sq:B", "--maximum", "1"]);
    let _ = env.run(&mut c, T);
    stop_capture(cap, &file);

    let port = env.server_port().to_string();
    let (recs, stderr) = shark(&env, &file, &["--port", &port]);
    assert!(
        stderr.trim().is_empty(),
        "problems on a clean capture: {stderr}"
    );
    check_counts(&file, &recs);
    assert_agree("caproto-monitor", &log_mon, "127.0.0.1", &recs, true);
    assert_agree(
        "caproto-ioc",
        &server_log,
        &format!("127.0.0.1:{port}"),
        &recs,
        false,
    );
}
