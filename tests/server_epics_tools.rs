//! EPICS base's own clients (caget, caput, camonitor, cainfo) against our
//! `caproto-ioc`, with exact expected output. Loopback only, per-test ports.

mod common;
mod server_support;

use std::time::Duration;

use common::CaEnv;
use server_support::{epics, normalized, start_ioc, wait_for_output, CLIENT_TIMEOUT};

/// `caget -t` of several PVs: one value line per PV.
fn caget_t(env: &CaEnv, pvs: &[&str], extra: &[&str]) -> Option<Vec<String>> {
    let mut args = vec!["-w", "5", "-t"];
    args.extend_from_slice(extra);
    args.extend_from_slice(pvs);
    let out = epics(env, "caget", &args)?;
    Some(normalized(out.expect_success("caget")))
}

#[test]
fn caget_reads_simple_example() {
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc(&env, "simple", "es1:", "A") else {
        return;
    };
    let Some(lines) = caget_t(&env, &["es1:A", "es1:B", "es1:C"], &[]) else {
        return;
    };
    assert_eq!(lines, ["1", "2", "3 1 2 3"]);
}

#[test]
fn caget_reads_every_type_variety() {
    let env = CaEnv::new();
    let p = "etv:";
    let Some(_ioc) = start_ioc(&env, "type_varieties", p, "double") else {
        return;
    };
    let cases: &[(&str, &str)] = &[
        ("string", "hello"),
        ("short", "7"),
        ("float", "1.5"),
        ("enum", "On"),
        ("char", "65"),
        ("long", "123456"),
        ("double", "3.25"),
        ("string_array", "3 a bc def"),
        ("short_array", "3 1 -2 3"),
        ("float_array", "3 0.5 1.5 2.5"),
        ("char_array", "10 116 101 120 116 0 0 0 0 0 0"),
        ("long_array", "4 10 20 30 40"),
        // Native count 10, value of 3: caget asks for 10 and gets zeros after.
        ("double_array", "10 1 2 3 0 0 0 0 0 0 0"),
        ("ro_double", "9.75"),
        ("ro_string", "fixed"),
        ("bool", "Off"),
        ("ai", "3.5"),
    ];
    let names: Vec<String> = cases.iter().map(|(n, _)| format!("{p}{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let Some(lines) = caget_t(&env, &refs, &[]) else {
        return;
    };
    let expected: Vec<&str> = cases.iter().map(|(_, v)| *v).collect();
    assert_eq!(lines, expected);

    // Type conversion on the server: ask for other types than the native one.
    // caget's -d and -t are mutually exclusive (-d wins), so -d output is the
    // detailed block: name, native type, request type, count, value.
    let caget_d = |pv: &str, dbr: &str| {
        let out = epics(&env, "caget", &["-w", "5", "-d", dbr, pv]).unwrap();
        normalized(out.expect_success("caget"))
    };
    let enum_pv = format!("{p}enum");
    assert_eq!(
        caget_d(&enum_pv, "DBR_STRING"),
        [
            enum_pv.as_str(),
            "Native data type: DBF_ENUM",
            "Request type: DBR_STRING",
            "Element count: 1",
            "Value: On"
        ]
    );
    let lines = caget_d(&format!("{p}double"), "DBR_LONG");
    assert_eq!(
        lines[2..],
        ["Request type: DBR_LONG", "Element count: 1", "Value: 3"]
    );
    let lines = caget_d(&format!("{p}long"), "DBR_STRING");
    assert_eq!(lines[4..], ["Value: 123456"]);
    let lines = caget_t(&env, &[&format!("{p}char_array")], &["-S"]).unwrap();
    assert_eq!(lines, ["text"]);
    let lines = caget_t(&env, &[&format!("{p}enum")], &["-n"]).unwrap();
    assert_eq!(lines, ["1"]);
}

#[test]
fn caput_writes_and_converts() {
    let env = CaEnv::new();
    let p = "ecp:";
    let Some(_ioc) = start_ioc(&env, "type_varieties", p, "double") else {
        return;
    };
    let put = |args: &[&str]| {
        let mut a = vec!["-w", "5"];
        a.extend_from_slice(args);
        epics(&env, "caput", &a).map(|o| normalized(o.expect_success("caput")))
    };
    let Some(lines) = put(&[&format!("{p}double"), "1.75"]) else {
        return;
    };
    assert_eq!(
        lines,
        [
            format!("Old : {p}double 3.25"),
            format!("New : {p}double 1.75")
        ]
    );
    let lines = put(&["-c", &format!("{p}long"), "-5"]).unwrap();
    assert_eq!(
        lines,
        [format!("Old : {p}long 123456"), format!("New : {p}long -5")]
    );
    // A string written to a double is converted by the server.
    let lines = put(&["-s", &format!("{p}double"), "2.5"]).unwrap();
    assert_eq!(lines[1], format!("New : {p}double 2.5"));
    // Enums by name and by index.
    let lines = put(&[&format!("{p}enum"), "Fault"]).unwrap();
    assert_eq!(
        lines,
        [format!("Old : {p}enum On"), format!("New : {p}enum Fault")]
    );
    let lines = put(&[&format!("{p}enum"), "0"]).unwrap();
    assert_eq!(lines[1], format!("New : {p}enum Off"));
    let lines = put(&[&format!("{p}string"), "new text"]).unwrap();
    assert_eq!(lines[1], format!("New : {p}string new text"));
    // Arrays: count first. caput reads back with the native count (4), and an
    // EPICS IOC (softIoc waveform NELM=4 alike) pads after the 2 written: "4 7 8 0 0".
    let lines = put(&["-a", &format!("{p}long_array"), "2", "7", "8"]).unwrap();
    assert_eq!(lines[1], format!("New : {p}long_array 4 7 8 0 0"));
    let lines = put(&["-S", &format!("{p}char_array"), "hey"]).unwrap();
    assert_eq!(lines[1], format!("New : {p}char_array hey"));
}

#[test]
fn read_only_pvs_refuse_writes() {
    let env = CaEnv::new();
    let p = "ero:";
    let Some(_ioc) = start_ioc(&env, "type_varieties", p, "ro_double") else {
        return;
    };
    let Some(out) = epics(&env, "cainfo", &[&format!("{p}ro_double")]) else {
        return;
    };
    let lines = normalized(out.expect_success("cainfo"));
    assert!(
        lines.contains(&"Access: read, no write".to_string()),
        "{out}"
    );

    let out = epics(
        &env,
        "caput",
        &["-w", "5", "-c", &format!("{p}ro_double"), "1"],
    )
    .unwrap();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("Write access denied") || text.contains("no write access"),
        "{out}"
    );
    // The value did not change.
    let out = epics(&env, "caget", &["-w", "5", "-t", &format!("{p}ro_double")]).unwrap();
    assert_eq!(normalized(out.expect_success("caget")), ["9.75"]);
}

#[test]
fn cainfo_reports_native_type_count_and_access() {
    let env = CaEnv::new();
    let p = "eci:";
    let Some(_ioc) = start_ioc(&env, "type_varieties", p, "double") else {
        return;
    };
    for (pv, dbf, count) in [
        ("string", "DBF_STRING", "1"),
        ("short", "DBF_SHORT", "1"),
        ("float", "DBF_FLOAT", "1"),
        ("enum", "DBF_ENUM", "1"),
        ("char_array", "DBF_CHAR", "10"),
        ("long_array", "DBF_LONG", "4"),
        ("double_array", "DBF_DOUBLE", "10"),
    ] {
        let name = format!("{p}{pv}");
        let Some(out) = epics(&env, "cainfo", &[&name]) else {
            return;
        };
        let lines = normalized(out.expect_success("cainfo"));
        let without_host: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| !l.starts_with("Host:"))
            .collect();
        assert_eq!(
            without_host,
            [
                name.as_str(),
                "State: connected",
                "Access: read, write",
                &format!("Native data type: {dbf}"),
                &format!("Request type: DBR_{}", &dbf[4..]),
                &format!("Element count: {count}"),
            ],
            "{out}"
        );
    }
}

#[test]
fn camonitor_sees_initial_value_and_updates() {
    let env = CaEnv::new();
    let p = "ecm:";
    let Some(_ioc) = start_ioc(&env, "simple", p, "A") else {
        return;
    };
    let Some(mut cmd) = env.epics("camonitor") else {
        return;
    };
    let a = format!("{p}A");
    let c = format!("{p}C");
    cmd.args(["-tn", &a, &c]);
    let mut mon = env.spawn("camonitor", &mut cmd);
    wait_for_output(&mut mon, CLIENT_TIMEOUT, "initial values", |l| {
        l.contains(&a) && l.contains(&c)
    });
    for v in ["5", "6", "7"] {
        epics(&env, "caput", &["-w", "5", &a, v])
            .unwrap()
            .expect_success("caput");
    }
    epics(&env, "caput", &["-w", "5", "-a", &c, "2", "9", "8"])
        .unwrap()
        .expect_success("caput");
    let log = wait_for_output(&mut mon, CLIENT_TIMEOUT, "updates", |l| {
        normalized(l)
            .iter()
            .any(|x| x.starts_with(&c) && x.ends_with("2 9 8"))
    });
    mon.kill();
    let lines = normalized(&log);
    let a_values: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("{a} ")))
        .map(|l| l.rsplit(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(a_values, ["1", "5", "6", "7"], "{log}");
    assert!(lines.contains(&format!("{c} 3 1 2 3")), "{log}");
    assert!(lines.contains(&format!("{c} 2 9 8")), "{log}");
}

#[test]
fn camonitor_keeps_up_with_a_fast_updater() {
    let env = CaEnv::new();
    let p = "efu:";
    let Some(_ioc) =
        server_support::start_ioc_with(&env, "ticker", p, "count", &["--rate", "2000"])
    else {
        return;
    };
    let Some(mut cmd) = env.epics("camonitor") else {
        return;
    };
    let pv = format!("{p}count");
    cmd.args(["-tn", &pv]);
    let mut mon = env.spawn("camonitor", &mut cmd);
    let log = wait_for_output(&mut mon, Duration::from_secs(30), "200 updates", |l| {
        l.lines().count() >= 200
    });
    mon.kill();
    // Values strictly increase (events may be coalesced, never reordered).
    let values: Vec<i64> = normalized(&log)
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert!(values.len() >= 200, "{log}");
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{log}");
}

/// Our ai-like PV answers DBR_CTRL/GR/STS/CLASS_NAME requests exactly as an
/// EPICS `ai` record with the same fields does (tests/fixtures/ioc.db `ai`).
#[test]
fn metadata_matches_softioc_ai_record() {
    let soft_env = CaEnv::new();
    let Some(_soft) = common::softioc_fixture(&soft_env, "sio:") else {
        return;
    };
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc(&env, "type_varieties", "our:", "ai") else {
        return;
    };
    for dbr in [
        "DBR_CTRL_DOUBLE",
        "DBR_CTRL_FLOAT",
        "DBR_CTRL_LONG",
        "DBR_GR_DOUBLE",
        "DBR_STS_DOUBLE",
        "DBR_CTRL_STRING",
        "DBR_CLASS_NAME",
    ] {
        let theirs = epics(&soft_env, "caget", &["-w", "5", "-d", dbr, "sio:ai"]).unwrap();
        let ours = epics(&env, "caget", &["-w", "5", "-d", dbr, "our:ai"]).unwrap();
        assert_eq!(
            ours.expect_success("caget ours").replace("our:ai", "PV"),
            theirs
                .expect_success("caget softIoc")
                .replace("sio:ai", "PV"),
            "{dbr}"
        );
    }
    // Timestamps are recent EPICS-epoch times, alarm fields as in the record.
    let out = epics(
        &env,
        "caget",
        &["-w", "5", "-d", "DBR_TIME_DOUBLE", "our:ai"],
    )
    .unwrap();
    let text = out.expect_success("caget");
    assert!(text.contains("Status:           NO_ALARM"), "{text}");
    let stamp_year = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Timestamp:"))
        .and_then(|t| t.trim().get(..4)?.parse::<u32>().ok())
        .unwrap_or(0);
    assert!(stamp_year >= 2024, "{text}");
}

#[test]
fn enum_ctrl_metadata_lists_states() {
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc(&env, "type_varieties", "een:", "enum") else {
        return;
    };
    let Some(out) = epics(
        &env,
        "caget",
        &["-w", "5", "-d", "DBR_CTRL_ENUM", "een:enum"],
    ) else {
        return;
    };
    assert_eq!(
        normalized(out.expect_success("caget")),
        [
            "een:enum",
            "Native data type: DBF_ENUM",
            "Request type: DBR_CTRL_ENUM",
            "Element count: 1",
            "Value: On",
            "Status: NO_ALARM",
            "Severity: NO_ALARM",
            "Enums: ( 3)",
            "[ 0] Off",
            "[ 1] On",
            "[ 2] Fault",
        ]
    );
}

#[test]
fn unknown_pv_is_not_found() {
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc(&env, "simple", "enf:", "A") else {
        return;
    };
    let Some(out) = epics(&env, "caget", &["-w", "1", "enf:nope"]) else {
        return;
    };
    assert!(!out.success(), "{out}");
    assert!(
        out.stdout.contains("enf:nope") || out.stderr.contains("enf:nope"),
        "{out}"
    );
}
