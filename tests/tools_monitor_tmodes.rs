//! caproto-monitor's `-t` modes against EPICS camonitor's, for the same
//! events: both watch the same softIoc PVs in every mode at once, the IOC
//! posts a few values (one of them in alarm), and each PV's lines must be
//! the same once clock values (stamps and time differences) are normalised.

mod common;
mod tools_support;

use std::time::{Duration, Instant};

use common::ChildGuard;
use tools_support::{ours_cmd, Tool};

const WAIT: Duration = Duration::from_secs(60);
const MODES: [&str; 9] = ["s", "c", "n", "sc", "r", "sr", "ci", "sI", "si"];

const DB: &str = "\
record(ao, \"$(P)A\") { field(VAL, \"1.5\") field(PINI, \"YES\") field(HIHI, \"90\") field(HHSV, \"MAJOR\") }
record(longout, \"$(P)B\") { field(VAL, \"7\") field(PINI, \"YES\") }
record(mbbo, \"$(P)C\") { field(VAL, \"1\") field(PINI, \"YES\") field(ZRST, \"zero\") field(ONST, \"one state\") field(TWST, \"two\") }
";

/// Clock values replaced: `YYYY-MM-DD HH:MM:SS.ffffff` by `<T>`, and signed
/// `+s.ffffff` differences by `<D>`; other text is kept as is.
fn normalise(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let digit = |k: usize| b.get(k).is_some_and(u8::is_ascii_digit);
    while i < b.len() {
        // A stamp: 4 digits '-' ... 26 characters.
        if i + 26 <= b.len()
            && digit(i)
            && digit(i + 3)
            && b[i + 4] == b'-'
            && b[i + 10] == b' '
            && b[i + 19] == b'.'
        {
            out.push_str("<T>");
            i += 26;
            continue;
        }
        if (b[i] == b'+' || b[i] == b'-') && digit(i + 1) {
            let mut j = i + 1;
            while digit(j) {
                j += 1;
            }
            if b.get(j) == Some(&b'.') && (1..=6).all(|k| digit(j + k)) && !digit(j + 7) {
                out.push_str("<D>");
                i = j + 7;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

fn lines_of(out: &str, pv: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.split(' ').next() == Some(pv))
        .map(normalise)
        .collect()
}

fn wait_lines(p: &mut ChildGuard, pv: &str, n: usize, who: &str) {
    let start = Instant::now();
    while lines_of(&p.log_contents(), pv).len() < n {
        assert!(
            start.elapsed() < WAIT,
            "{who}: fewer than {n} lines for {pv}:\n{}",
            p.log_contents()
        );
        p.assert_running();
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn t_modes_print_what_camonitor_prints() {
    let env = common::CaEnv::new();
    let db = env.write_file("tmodes.db", DB);
    let Some(mut ioc) = common::start_softioc(&env, &db, "P=tt:") else {
        return;
    };
    common::wait_for_server(&env, &mut ioc, "tt:A");
    let pvs = ["tt:A", "tt:B", "tt:C"];
    let mut pairs = Vec::new();
    for mode in MODES {
        let mut theirs = env.epics("camonitor").unwrap();
        theirs.args(["-w", "10", "-t", mode]).args(pvs);
        let theirs = env.spawn(&format!("camonitor-{mode}"), &mut theirs);
        let mut args = vec!["-t", mode];
        args.extend(pvs);
        let ours = env.spawn(
            &format!("caproto-monitor-{mode}"),
            &mut ours_cmd(&env, Tool::Monitor, &args),
        );
        pairs.push((mode, theirs, ours));
    }
    for (_, theirs, ours) in pairs.iter_mut() {
        for pv in pvs {
            wait_lines(theirs, pv, 1, "camonitor");
            wait_lines(ours, pv, 1, "caproto-monitor");
        }
    }
    for cmd in [
        "dbpf tt:A 2.25",
        "dbpf tt:B -12",
        "dbpf tt:C 2",
        "dbpf tt:A 95",
        "dbpf tt:B 100000",
        "dbpf tt:A 0.000125",
    ] {
        ioc.send_line(cmd).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    for (mode, theirs, ours) in pairs.iter_mut() {
        for (pv, n) in [("tt:A", 4), ("tt:B", 3), ("tt:C", 2)] {
            wait_lines(theirs, pv, n, "camonitor");
            wait_lines(ours, pv, n, "caproto-monitor");
            let t = lines_of(&theirs.log_contents(), pv);
            let o = lines_of(&ours.log_contents(), pv);
            assert_eq!(o, t, "-t {mode}, {pv}");
            if *mode == "s" {
                // Server stamps only: the same digits, not just the same shape.
                let raw = |out: &str| -> Vec<String> {
                    out.lines()
                        .filter(|l| l.split(' ').next() == Some(pv))
                        .map(str::to_owned)
                        .collect()
                };
                assert_eq!(
                    raw(&ours.log_contents()),
                    raw(&theirs.log_contents()),
                    "-t s, {pv}"
                );
            }
            if pv == "tt:A" {
                assert!(o.iter().any(|l| l.ends_with(" 95 HIHI MAJOR")), "{o:?}");
            }
        }
    }
}

/// In the `-t` layout the connection lines are camonitor's too: a PV not
/// found, its values once the IOC is up, and the disconnect when it stops.
#[test]
fn t_layout_connection_lines_match_camonitor() {
    let env = common::CaEnv::new();
    let Some(mut theirs) = env.epics("camonitor") else {
        return;
    };
    theirs.args(["-w", "1", "-t", "s", "tt2:A"]);
    // libca reports the lost circuit on stderr while camonitor prints its
    // disconnect line; in one file the report can split that line.
    let mut theirs = env.spawn_stderr_apart("camonitor", &mut theirs);
    let mut ours = env.spawn(
        "caproto-monitor",
        &mut ours_cmd(&env, Tool::Monitor, &["-w", "1", "-t", "s", "tt2:A"]),
    );
    wait_lines(&mut theirs, "tt2:A", 1, "camonitor");
    wait_lines(&mut ours, "tt2:A", 1, "caproto-monitor");
    let db = env.write_file("conn.db", DB);
    let mut ioc = common::start_softioc(&env, &db, "P=tt2:").unwrap();
    common::wait_for_server(&env, &mut ioc, "tt2:A");
    wait_lines(&mut theirs, "tt2:A", 2, "camonitor");
    wait_lines(&mut ours, "tt2:A", 2, "caproto-monitor");
    ioc.kill();
    wait_lines(&mut theirs, "tt2:A", 3, "camonitor");
    wait_lines(&mut ours, "tt2:A", 3, "caproto-monitor");
    let t = lines_of(&theirs.log_contents(), "tt2:A");
    let o = lines_of(&ours.log_contents(), "tt2:A");
    assert_eq!(o, t);
    assert!(t[0].ends_with("*** Not connected (PV not found)"), "{t:?}");
    assert!(t[2].ends_with("<T> *** disconnected"), "{t:?}");
}
