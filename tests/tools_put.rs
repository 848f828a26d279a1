//! Our caproto-put against EPICS softIoc (tests/fixtures/ioc.db) and a
//! caproto example server: write, read back, put with completion callback,
//! refused and impossible writes. Where caproto's caproto-put prints the
//! same thing, it is run first on the same PV, the record is restored, and
//! then ours must print exactly the same lines.

mod common;
mod tools_support;

use std::time::Duration;

use common::{CaEnv, ChildGuard};
use tools_support::{
    assert_lines_eq, default_line, epics_caget, epics_caput, ours, ours_ok, theirs, Tool,
};

fn ioc(env: &CaEnv, prefix: &str) -> Option<ChildGuard> {
    common::softioc_fixture(env, prefix)
}

/// Run caproto-put with `args`, restore the record with EPICS `caput
/// restore` (put `--` before a negative number there: caput parses options
/// anywhere), then run ours with `args`: both must print the same. Returns
/// ours. Without caproto, only ours runs.
fn put_like_caproto(env: &CaEnv, args: &[&str], restore: &[&str]) -> String {
    if let Some(theirs) = theirs(env, Tool::Put, args) {
        let theirs = theirs
            .expect_success(&format!("caproto-put {args:?}"))
            .to_string();
        epics_caput(env, restore);
        let ours = ours_ok(env, Tool::Put, args);
        assert_lines_eq(&ours, &theirs, &format!("caproto-put {args:?}"));
        ours
    } else {
        ours_ok(env, Tool::Put, args)
    }
}

/// (caproto-put args, caput args that restore the record, PV, old, new).
type PutCase = (
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static str,
);

fn old_new(pv: &str, old: &str, new: &str) -> String {
    format!(
        "Old : {}\nNew : {}\n",
        default_line(pv, old),
        default_line(pv, new)
    )
}

#[test]
fn put_and_read_back_every_native_type() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tp1:") else {
        return;
    };
    let cases: [PutCase; 8] = [
        (
            &["tp1:ao", "2.25"],
            &["tp1:ao", "1.5"],
            "tp1:ao",
            "[1.5]",
            "[2.25]",
        ),
        (
            &["tp1:longout", "12"],
            &["--", "tp1:longout", "-7"],
            "tp1:longout",
            "[-7]",
            "[12]",
        ),
        (
            &["tp1:bo", "Open"],
            &["tp1:bo", "Closed"],
            "tp1:bo",
            "[b'Closed']",
            "[b'Open']",
        ),
        (
            &["-n", "tp1:mbbo", "2"],
            &["tp1:mbbo", "1"],
            "tp1:mbbo",
            "[1]",
            "[2]",
        ),
        (
            &["tp1:stringout", "'new text'"],
            &["tp1:stringout", "world"],
            "tp1:stringout",
            "[b'world']",
            "[b'new text']",
        ),
        (
            &["-a", "tp1:wave_s", "4 5 6 7"],
            &["-a", "--", "tp1:wave_s", "3", "1", "-2", "3"],
            "tp1:wave_s",
            "[ 1 -2  3]",
            "[4 5 6 7]",
        ),
        (
            &["-a", "tp1:wave_l", "1 2"],
            &["-a", "--", "tp1:wave_l", "3", "100000", "-100000", "7"],
            "tp1:wave_l",
            "[ 100000 -100000       7]",
            "[1 2]",
        ),
        (
            &["-a", "tp1:wave_f", "0.25 8"],
            &["-a", "tp1:wave_f", "2", "0.5", "1.25"],
            "tp1:wave_f",
            "[0.5  1.25]",
            "[0.25 8.  ]",
        ),
    ];
    for (args, restore, pv, old, new) in cases {
        let out = put_like_caproto(&env, args, restore);
        assert_eq!(out, old_new(pv, old, new), "{args:?}");
    }
    // The values really are on the server.
    if let Some(v) = epics_caget(&env, &[], "tp1:ao") {
        assert_eq!(v, "2.25");
    }
    if let Some(v) = epics_caget(&env, &[], "tp1:stringout") {
        assert_eq!(v, "new text");
    }
    if let Some(v) = epics_caget(&env, &["-n"], "tp1:bo") {
        assert_eq!(v, "1");
    }
    if let Some(v) = epics_caget(&env, &["-#", "4"], "tp1:wave_s") {
        assert_eq!(v, "4 4 5 6 7");
    }
}

#[test]
fn long_string_into_a_char_waveform() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tp2:") else {
        return;
    };
    let out = ours_ok(&env, Tool::Put, &["-S", "tp2:wave_c", "hi there"]);
    // The old value is a long array, which numpy's layout wraps over lines.
    assert!(out.starts_with("Old : tp2:wave_c "), "{out}");
    // caget-style: the text and its terminating NUL.
    assert!(
        out.ends_with(&format!(
            "\nNew : {}\n",
            default_line("tp2:wave_c", "[104 105  32 116 104 101 114 101   0]")
        )),
        "{out}"
    );
    if let Some(v) = epics_caget(&env, &["-S"], "tp2:wave_c") {
        assert_eq!(v, "hi there");
    }
    let get = ours_ok(&env, Tool::Get, &["-S", "tp2:wave_c"]);
    assert_eq!(get, format!("{}\n", default_line("tp2:wave_c", "hi there")));
}

#[test]
fn terse_and_wide_output() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tp3:") else {
        return;
    };
    let out = put_like_caproto(
        &env,
        &["-t", "tp3:longout", "13"],
        &["--", "tp3:longout", "-7"],
    );
    assert_eq!(out, "-7\n13\n");
    // Wide lines carry the server's timestamps, which differ between runs:
    // compare the shape with caproto's.
    let ours = ours_ok(&env, Tool::Put, &["-l", "tp3:ao", "3.5"]);
    let shape = |out: &str| -> Vec<(String, String, String)> {
        out.lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(w.len(), 5, "{l}");
                (w[0].to_string(), w[3].to_string(), w[4].to_string())
            })
            .collect()
    };
    let want = |old: &str, new: &str| {
        vec![
            (
                "tp3:ao".to_string(),
                old.to_string(),
                "ECA_NORMAL".to_string(),
            ),
            (
                "tp3:ao".to_string(),
                new.to_string(),
                "ECA_NORMAL".to_string(),
            ),
        ]
    };
    assert_eq!(shape(&ours), want("[1.5]", "[3.5]"));
    if let Some(theirs) = theirs(&env, Tool::Put, &["-l", "tp3:ao", "4.5"]) {
        assert_eq!(
            shape(theirs.expect_success("caproto-put -l")),
            want("[3.5]", "[4.5]")
        );
    }
}

#[test]
fn put_with_callback_returns_after_completion() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tp4:") else {
        return;
    };
    // tp4:slow completes 0.5 s after the put, once tp4:slow_out is written:
    // after a put with -c returns, slow_out already holds the value.
    let out = put_like_caproto(&env, &["-c", "tp4:slow", "7"], &["tp4:slow", "0"]);
    assert_eq!(out, old_new("tp4:slow", "[0.]", "[7.]"));
    if let Some(v) = epics_caget(&env, &[], "tp4:slow_out") {
        assert_eq!(v, "7");
    }
    let out = ours_ok(&env, Tool::Put, &["-c", "tp4:slow", "9"]);
    assert_eq!(out, old_new("tp4:slow", "[7.]", "[9.]"));
    let get = ours_ok(&env, Tool::Get, &["tp4:slow_out"]);
    assert_eq!(get, format!("{}\n", default_line("tp4:slow_out", "[9]")));
}

/// A put-callback record pair whose completion comes `ODLY` seconds after
/// the write: `<P>slower` (PP) processes `<P>slower_delay`, which writes
/// `<P>slower_out` only after the delay.
const SLOWER_DB: &str = r#"
record(ao, "$(P)slower") {
    field(VAL, "0")
    field(UDF, "0")
    field(OUT, "$(P)slower_delay.A PP")
}
record(calcout, "$(P)slower_delay") {
    field(CALC, "A")
    field(ODLY, "12")
    field(OUT,  "$(P)slower_out PP")
}
record(ao, "$(P)slower_out") {
    field(VAL, "0")
    field(UDF, "0")
}
"#;

#[test]
fn put_callback_longer_than_the_timeout_fails() {
    let env = CaEnv::new();
    let db = env.write_file("slower.db", SLOWER_DB);
    let Some(mut ioc) = common::start_softioc(&env, &db, "P=tp5:") else {
        return;
    };
    common::wait_for_server(&env, &mut ioc, "tp5:slower");
    // The completion comes 12 s after the write; a 6 s timeout is ample for
    // the search and the first read, even on two busy cores, but cannot see
    // the completion. The
    // message must be the callback's timeout, not the search's: both exit 1
    // and name the PV.
    let out = ours(&env, Tool::Put, &["-c", "-w", "6", "tp5:slower", "3"]);
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert_eq!(
        out.stderr.trim(),
        "tp5:slower: timeout while awaiting the write to complete.",
        "{out}"
    );
    assert!(!out.stderr.contains("search"), "{out}");
    // The write itself was sent and is carried out late: the delayed record
    // receives the value once the callback would have completed.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = epics_caget(&env, &[], "tp5:slower_out");
        if v.as_deref() == Some("3") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the put never reached the server: tp5:slower_out is {v:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn impossible_writes_fail_with_a_message() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tp6:") else {
        return;
    };
    // Text to a DOUBLE: refused before anything is written.
    let out = ours(&env, Tool::Put, &["tp6:ao", "abc"]);
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(
        out.stderr.contains("tp6:ao") && out.stderr.contains("abc"),
        "{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
    // The NAME field cannot be changed: the server fails the write.
    let out = ours(&env, Tool::Put, &["-c", "tp6:ai.NAME", "'other'"]);
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stderr.contains("tp6:ai.NAME"), "{out}");
    // Unknown PV.
    let out = ours(&env, Tool::Put, &["-w", "1", "tp6:nope", "1"]);
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stderr.contains("tp6:nope"), "{out}");
    // Unreadable DATA is a usage error.
    let out = ours(
        &env,
        Tool::Put,
        &["--file", "tp6:ao", "/nonexistent/values.txt"],
    );
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{out}");
}

#[test]
fn write_refused_by_access_security() {
    let env = CaEnv::new();
    let acf = env.write_file("readonly.acf", "ASG(DEFAULT) {\n    RULE(1, READ)\n}\n");
    let Some(mut cmd) = env.epics("softIoc") else {
        return;
    };
    cmd.arg("-a")
        .arg(&acf)
        .arg("-m")
        .arg("P=tp7:")
        .arg("-d")
        .arg(common::ioc_db())
        .current_dir(env.dir());
    let mut ioc = env.spawn("softIoc-readonly", &mut cmd);
    common::wait_for_server(&env, &mut ioc, "tp7:ao");
    let out = ours(&env, Tool::Put, &["tp7:ao", "2"]);
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(
        out.stderr.contains("tp7:ao") && out.stderr.contains("write access denied"),
        "{out}"
    );
    // Nothing was written; reading still works.
    let get = ours_ok(&env, Tool::Get, &["tp7:ao"]);
    assert_eq!(get, format!("{}\n", default_line("tp7:ao", "[1.5]")));
}

#[test]
fn put_to_a_caproto_server() {
    let env = CaEnv::new();
    let Some(_server) = common::caproto_example(&env, "simple", "tp8:", "A") else {
        return;
    };
    let out = ours_ok(&env, Tool::Put, &["tp8:B", "-3.25"]);
    assert_eq!(out, old_new("tp8:B", "[2.]", "[-3.25]"));
    let out = ours_ok(&env, Tool::Put, &["-c", "tp8:A", "17"]);
    assert_eq!(out, old_new("tp8:A", "[1]", "[17]"));
    let out = ours_ok(&env, Tool::Put, &["-a", "tp8:C", "4 5 6"]);
    assert_eq!(out, old_new("tp8:C", "[1 2 3]", "[4 5 6]"));
    // caproto's own tool sees our writes, and prints as ours does.
    if let Some(theirs) = theirs(&env, Tool::Put, &["tp8:B", "0.5"]) {
        assert_eq!(
            theirs.expect_success("caproto-put tp8:B"),
            old_new("tp8:B", "[-3.25]", "[0.5]")
        );
    }
    let get = tools_support::same_as_caproto(&env, Tool::Get, &["tp8:A", "tp8:B", "tp8:C"]);
    assert_eq!(
        get,
        format!(
            "{}\n{}\n{}\n",
            default_line("tp8:A", "[17]"),
            default_line("tp8:B", "[0.5]"),
            default_line("tp8:C", "[4 5 6]")
        )
    );
}

#[test]
fn put_without_callback_still_reaches_the_server() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tp9:") else {
        return;
    };
    // A write without -c is only queued; the tool must flush it before exiting.
    ours_ok(&env, Tool::Put, &["tp9:longout", "321"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let get = ours_ok(&env, Tool::Get, &["-t", "tp9:longout"]);
        if get == "321\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the write never arrived: {get}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
