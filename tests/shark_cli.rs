//! The caproto-shark binary on hand-built captures: records are printed as packets arrive on
//! a pipe (not at EOF), the log flags and formats apply, --summary reports searches, circuits
//! and beacon restarts, and bad input gives a message naming the packet.

mod shark_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shark_support::*;

const SHARK: &str = env!("CARGO_BIN_EXE_caproto-shark");

fn session() -> Vec<Vec<u8>> {
    let (c, s) = (addr("127.0.0.1:40001"), addr("127.0.0.1:5064"));
    vec![
        tcp(c, s, 99, SYN, &[]),
        tcp(s, c, 499, SYN | ACK, &[]),
        tcp(
            c,
            s,
            100,
            ACK,
            &[version(), create_req("motor:x", 1), create_req("other", 2)].concat(),
        ),
        tcp(
            s,
            c,
            500,
            ACK,
            &[create_resp(1, 10), create_resp(2, 20)].concat(),
        ),
        tcp(c, s, 164, ACK, &[read_req(10, 1), read_req(20, 2)].concat()),
        tcp(
            s,
            c,
            532,
            ACK,
            &[read_resp(1, 1.5), read_resp(2, 2.5)].concat(),
        ),
    ]
}

fn file_of(ips: &[Vec<u8>]) -> Vec<u8> {
    let pkts: Vec<Pkt> = ips
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Pkt::new(
                1_700_000_000_000_000 + i as u64 * 250_000,
                Link::Ethernet.frame(p),
            )
        })
        .collect();
    pcap(1, &pkts, false, false)
}

fn run(args: &[&str], input: &[u8]) -> (String, String, i32) {
    let mut child = Command::new(SHARK)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn records_appear_while_the_pipe_is_still_open() {
    let bytes = file_of(&session());
    let mut child = Command::new(SHARK)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // Everything but the last packet, and keep the pipe open.
    let last = 24
        + (0..5).fold(0, |off, _| {
            off + 16
                + u32::from_le_bytes(bytes[24 + off + 8..24 + off + 12].try_into().unwrap())
                    as usize
        });
    stdin.write_all(&bytes[..last]).unwrap();
    stdin.flush().unwrap();
    let mut lines = Vec::new();
    while lines.len() < 7 {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("records did not arrive before EOF: got {lines:?}"),
        }
    }
    assert!(lines[6].contains("ReadNotifyRequest"), "{lines:?}");
    stdin.write_all(&bytes[last..]).unwrap();
    drop(stdin);
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert!(child.wait().unwrap().success());
}

#[test]
fn text_line_has_capture_time_addresses_pv_and_command() {
    let (out, err, code) = run(&["--log-pv", "motor:*"], &file_of(&session()));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    // motor:x records plus the PV-less VERSION (filters pass records without a PV).
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines.iter().all(|l| !l.contains("other")), "{out}");
    let create = lines[1];
    assert!(create.starts_with("[D "), "{create}");
    assert!(
        create.contains("127.0.0.1:40001 --->>> 127.0.0.1:5064 24B motor:x CreateChanRequest(name='motor:x', cid=1"),
        "{create}"
    );
    assert!(
        lines[2].contains("127.0.0.1:5064 --->>> 127.0.0.1:40001 16B motor:x CreateChanResponse")
    );
    // The time printed is the packet's, in local time, not now.
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 500_000_000)
        .unwrap()
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S%.3f")
        .to_string();
    assert!(create.contains(&t), "{create} lacks {t}");
}

#[test]
fn json_role_filter_and_log_file() {
    let dir = std::env::temp_dir().join(format!("shark-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("records.json");
    let f = file.to_str().unwrap();
    let (out, err, code) = run(
        &[
            "--log-format",
            "json",
            "--log-role",
            "server",
            "--log-file",
            f,
        ],
        &file_of(&session()),
    );
    assert_eq!(code, 0, "{err}");
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 4, "{out}");
    for r in &recs {
        assert_eq!(r["role"], "server");
        assert_eq!(r["our_addr"], "127.0.0.1:5064");
        assert_eq!(r["target"], "caproto::circ");
        assert!(r["capture_time"].as_f64().unwrap() > 1.7e9);
    }
    assert_eq!(recs[2]["pv"], "motor:x");
    assert!(recs[2]["command"]
        .as_str()
        .unwrap()
        .starts_with("ReadNotifyResponse(data=[1.5]"));
    let logged = std::fs::read_to_string(&file).unwrap();
    assert_eq!(logged, out, "--log-file gets the same records");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn summary_reports_searches_circuits_and_beacon_restarts() {
    let cl = addr("127.0.0.1:45000");
    let srv = addr("127.0.0.1:5064");
    let rep = addr("127.0.0.1:5065");
    let beacon_from = addr("127.0.0.1:39999");
    let mut ips = session();
    for _ in 0..3 {
        ips.push(udp(cl, srv, &search_req("lost:pv", 7)));
    }
    ips.push(udp(cl, srv, &search_req("motor:x", 8)));
    ips.push(udp(srv, cl, &search_resp(5064, 8)));
    // Beacons 1..=4 then 0 again: the server restarted.
    for id in [1, 2, 3, 4, 0] {
        ips.push(udp(
            beacon_from,
            rep,
            &ca(13, 13, 5064, id, 0x7F00_0001, &[]),
        ));
    }
    let (out, err, code) = run(&["-q", "--summary"], &file_of(&ips));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("[D "), "-q hides the records: {out}");
    let section = |name: &str| {
        let start = out
            .find(name)
            .unwrap_or_else(|| panic!("no {name} in {out}"));
        out[start..].split("\n\n").next().unwrap().to_owned()
    };
    let pvs = section("== PVs");
    assert!(
        pvs.lines().any(|l| l.starts_with("motor:x")
            && l.split_whitespace().collect::<Vec<_>>()[1..]
                == ["6", "128", "1", "0", "0", "0"][..]),
        "{pvs}"
    );
    let circuits = section("== Circuits (1)");
    assert!(
        circuits.contains("127.0.0.1:40001") && circuits.contains("127.0.0.1:5064"),
        "{circuits}"
    );
    let searches = section("== Searches (2 names, 1 never answered)");
    let rows: Vec<&str> = searches.lines().skip(2).collect();
    assert!(
        rows[0].starts_with("lost:pv")
            && rows[0].split_whitespace().collect::<Vec<_>>()[1..] == ["3", "0"],
        "{searches}"
    );
    assert!(rows[1].starts_with("motor:x"), "{searches}");
    let beacons = section("== Beacons");
    assert!(
        beacons.contains("1 anomalies") && beacons.contains("beacon id jumped from 4 to 0"),
        "{beacons}"
    );
}

#[test]
fn bad_input_names_the_packet() {
    let mut bytes = file_of(&session());
    bytes.truncate(bytes.len() - 5);
    let (out, err, code) = run(&[], &bytes);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 7, "{out}");
    assert!(
        err.contains("packet 6: capture ends inside its record"),
        "{err}"
    );

    let (out, err, code) = run(&[], b"GIF89a, not a capture at all");
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("not a pcap or pcapng capture"), "{err}");

    let mut child = Command::new(SHARK)
        .arg("/nonexistent/capture.pcap")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert!(
        err.contains("cannot open /nonexistent/capture.pcap"),
        "{err}"
    );
}

/// Ctrl-C (SIGINT) while a live pipe is still open: the records so far, then the summary,
/// and exit 130; bad arguments exit 2 before anything is read.
#[test]
fn ctrl_c_prints_the_summary_and_exits_130_bad_arguments_exit_2() {
    let mut child = Command::new(SHARK)
        .arg("--summary")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    stdin.write_all(&file_of(&session())).unwrap();
    stdin.flush().unwrap();
    // Every record of the session is out: shark is waiting for more on the open pipe.
    let mut lines = Vec::new();
    while lines.len() < 9 {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("records did not arrive: {lines:?}"),
        }
    }
    assert!(lines[8].contains("ReadNotifyResponse"), "{lines:?}");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let code = child.wait().unwrap().code();
        let _ = done_tx.send(());
        code
    });
    // Hang guard: shark must end on Ctrl-C although its stdin stays open.
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("caproto-shark still running after SIGINT");
    assert_eq!(waiter.join().unwrap(), Some(130));
    drop(stdin);
    let rest: Vec<String> = rx.iter().collect();
    assert!(
        rest.iter().any(|l| l.starts_with("== PVs")),
        "no summary after Ctrl-C: {rest:?}"
    );
    assert!(rest.iter().any(|l| l.starts_with("motor:x")), "{rest:?}");

    for bad in [
        &["--max-message", "lots"][..],
        &["--log-format", "xml"][..],
        &["--no-such-flag"][..],
        // --top draws its own view: neither a summary nor a metrics endpoint goes with it.
        &["--top", "--summary"][..],
        &["--top", "--metrics", "127.0.0.1:0"][..],
    ] {
        let (out, err, code) = run(bad, &file_of(&session()));
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(out.is_empty(), "{bad:?}: {out}");
        assert!(!err.is_empty(), "{bad:?}: no message");
    }
}

/// 25 snapped packets (one problem kind) and 3 refused headers (another): the first 20 of
/// the first kind are printed, then a note that the rest are counted, and the count (5) at
/// the end; the 3 of the other kind are all printed.
#[test]
fn the_first_20_problems_of_each_kind_are_printed_and_the_rest_counted() {
    let (c, s) = (addr("127.0.0.1:40002"), addr("127.0.0.1:5064"));
    let mut pkts = Vec::new();
    for i in 0..25u32 {
        // A search datagram cut 4 bytes short by the snapshot length.
        let mut p = Pkt::new(
            u64::from(i),
            Link::Ethernet.frame(&udp(c, s, &search_req("snapped:pv", i))),
        );
        let full = p.data.len();
        p.data.truncate(full - 4);
        p.orig_len = full as u32;
        pkts.push(p);
    }
    let mut huge = ca(15, 6, 1, 1, 1, &[]);
    huge[2..4].copy_from_slice(&[0xFF, 0xFF]);
    huge.extend_from_slice(&0x8000_0000u32.to_be_bytes());
    huge.extend_from_slice(&1u32.to_be_bytes());
    // Three circuits, each opening with a header that announces 2 GiB.
    for i in 0..3u16 {
        let c = addr(&format!("127.0.0.1:{}", 40010 + i));
        let payload = [huge.clone(), read_req(1, 5)].concat();
        pkts.push(Pkt::new(30, Link::Ethernet.frame(&tcp(c, s, 99, SYN, &[]))));
        pkts.push(Pkt::new(
            31,
            Link::Ethernet.frame(&tcp(c, s, 100, ACK, &payload)),
        ));
    }
    let (_, err, code) = run(&["-q"], &pcap(1, &pkts, false, false));
    assert_eq!(code, 0, "{err}");
    let snapped = err
        .lines()
        .filter(|l| l.contains("bytes captured (snapshot length)"))
        .count();
    let refused = err
        .lines()
        .filter(|l| l.contains("header announces a 2147483648-byte payload"))
        .count();
    assert_eq!((snapped, refused), (20, 3), "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("problems are only counted"))
            .count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.lines().last(),
        Some("caproto-shark: 5 more problems not shown individually"),
        "{err}"
    );
}

/// `--max-message`: a 200-byte payload is refused with a 100-byte cap and decoded without.
/// `--max-flow-buffer`: 3 000 bytes waiting behind a hole overflow a 1 000-byte buffer (said
/// so at the packet that overflowed it, and the hole given up on, so the waiting messages
/// decode) and fit in the default 4 MiB.
#[test]
fn max_message_and_max_flow_buffer_bound_what_is_held() {
    let (c, s) = (addr("127.0.0.1:40003"), addr("127.0.0.1:5064"));
    let big = ca(4, 0, 0, 1, 1, &[b'x'; 200]); // WRITE, DBR_STRING payload of 200 bytes
                                               // The server binds sid 1 first: after a refused message, framing resumes only where
                                               // an id seen on the circuit vouches for it (issue 24).
    let opening = [version(), create_req("wave", 1)].concat();
    let after_opening = 100 + opening.len() as u32;
    let bound = |more: Vec<Vec<u8>>| {
        let mut ips = vec![
            tcp(c, s, 99, SYN, &[]),
            tcp(s, c, 499, SYN | ACK, &[]),
            tcp(c, s, 100, ACK, &opening),
            tcp(s, c, 500, ACK, &[version(), create_resp(1, 1)].concat()),
        ];
        ips.extend(more);
        ips
    };
    let ips = bound(vec![tcp(
        c,
        s,
        after_opening,
        ACK,
        &[big, read_req(1, 9)].concat(),
    )]);
    let (out, err, code) = run(&["--max-message", "100"], &file_of(&ips));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(cap 100 bytes)"), "{err}");
    assert!(!out.contains("WriteRequest"), "{out}");
    assert!(out.contains("ReadNotifyRequest"), "{out}");
    let (out, err, code) = run(&[], &file_of(&ips));
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.contains("WriteRequest"), "{out}");

    // A 16-byte hole after the VERSION, then 3 000 bytes of READ_NOTIFY requests.
    let reads: Vec<u8> = (0..188).flat_map(|i| read_req(1, i)).collect();
    let ips = bound(vec![tcp(c, s, after_opening + 16, ACK, &reads)]);
    let (out, err, code) = run(&["--max-flow-buffer", "1000"], &file_of(&ips));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("packet 5: 127.0.0.1:40003 -> 127.0.0.1:5064: reassembly buffer cap of 1000 bytes reached"),
        "{err}"
    );
    assert!(out.contains("ReadNotifyRequest"), "{out}");
    let (_, err, code) = run(&[], &file_of(&ips));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("reassembly buffer cap"), "{err}");
}

#[test]
fn summary_every_period_comes_out_as_records() {
    // Messages at 0.5 s (3), 0.75 s (2), 1.0 s (2) and 1.25 s (2) after the first packet:
    // periods of 500 ms from the first message hold 5, then 4 messages.
    let (out, err, code) = run(
        &["--log-format", "json", "--summary-every", "500ms"],
        &file_of(&session()),
    );
    assert_eq!(code, 0, "{err}");
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summaries: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r["target"] == "caproto::shark::summary")
        .collect();
    assert_eq!(summaries.len(), 2, "{out}");
    assert_eq!(summaries[0]["messages"], 5, "{out}");
    assert_eq!(summaries[1]["messages"], 4, "{out}");
    assert_eq!(summaries[0]["level"], "INFO", "{out}");
    assert_eq!(summaries[0]["period_s"], 0.5, "{out}");
    assert!(
        summaries[1]["top_pvs"]
            .as_str()
            .unwrap()
            .contains("motor:x="),
        "{out}"
    );
    assert_eq!(summaries[1]["lost_bytes"], 0);
    // Each comes right after the last record of its period, stamped with the period's end.
    let first = recs
        .iter()
        .position(|r| r["target"] == "caproto::shark::summary")
        .unwrap();
    assert_eq!(first, 5, "{out}");
    assert!(
        summaries[0]["capture_time"].as_f64().unwrap() > recs[4]["capture_time"].as_f64().unwrap()
    );
    // A period that is not a duration is refused.
    let (_, err, code) = run(&["--summary-every", "often"], &[]);
    assert_eq!(code, 2, "{err}");
}

/// The session, then each channel read three more times: repeated (PV, sender) pairs, as the
/// filters' remembered verdicts see them.
fn busy_session() -> Vec<Vec<u8>> {
    let (c, s) = (addr("127.0.0.1:40001"), addr("127.0.0.1:5064"));
    let mut ips = session();
    for i in 0..3u32 {
        ips.push(tcp(
            c,
            s,
            196 + i * 32,
            ACK,
            &[read_req(10, 3 + 2 * i), read_req(20, 4 + 2 * i)].concat(),
        ));
        ips.push(tcp(
            s,
            c,
            580 + i * 48,
            ACK,
            &[read_resp(3 + 2 * i, 1.5), read_resp(4 + 2 * i, 2.5)].concat(),
        ));
    }
    ips
}

#[test]
fn field_filters_keep_exactly_the_records_they_match() {
    let input = file_of(&busy_session());
    let json = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["--log-format", "json"];
        args.extend_from_slice(extra);
        let (out, err, code) = run(&args, &input);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = json(&[]);
    assert_eq!(
        all.len(),
        21,
        "VERSION, 2 creates and replies, 16 reads and replies"
    );
    type Rule = fn(&serde_json::Value) -> bool;
    let cases: [(&[&str], Rule); 5] = [
        (&["--log-pv", "other"], |r| {
            r.get("pv").is_none_or(|p| p == "other")
        }),
        (&["--log-pv", "motor:*", "--log-role", "client"], |r| {
            r.get("pv").is_none_or(|p| p == "motor:x") && r["role"] == "client"
        }),
        (&["--log-pv", "nothing:*"], |r| r.get("pv").is_none()),
        (&["--log-addr", "127.0.0.1:40001"], |_| true),
        (&["--log-addr", "127.0.0.2", "--log-pv", "motor:x"], |_| {
            false
        }),
    ];
    for (flags, keep) in cases {
        let want: Vec<_> = all.iter().filter(|r| keep(r)).collect();
        let got = json(flags);
        assert_eq!(got.len(), want.len(), "{flags:?}: {got:#?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["command"], w["command"], "{flags:?}");
            assert_eq!(g["our_addr"], w["our_addr"], "{flags:?}");
        }
    }
}
