//! `caproto-ioc -d` against softIoc: the same `.db` file served by both
//! (tests/fixtures/records.db), the same EPICS tools run against each, and
//! their output compared line by line, timestamps aside. Loopback only,
//! per-test ports.

mod common;
mod db_support;
mod server_support;

use db_support::{by_pv, monitor_lines, records_db, Pair, Side};

/// Every numeric record and a field channel, as DBR_CTRL_DOUBLE; the enum
/// records and menu fields as DBR_CTRL_ENUM; longs, STS, strings; cainfo
/// of field channels (their DBF types and access rights).
#[test]
fn ctrl_sts_and_cainfo_match_softioc() {
    let p = "dbm1:";
    let Some(pair) = Pair::start(&records_db(), p, "ai") else {
        return;
    };
    let pv = |names: &[&str]| -> Vec<String> { names.iter().map(|n| format!("{p}{n}")).collect() };
    let args = |head: &[&str], names: &[String]| -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(names.iter().cloned())
            .collect()
    };
    let run = |head: &[&str], names: &[&str]| {
        let a = args(head, &pv(names));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        pair.same(refs[0], &refs[1..])
    };
    let ctrl = run(
        &["caget", "-d", "DBR_CTRL_DOUBLE"],
        &[
            "ai", "ao", "dead", "li", "lo", "twice", "sum", "co", "wf", "ai.HIHI", "ao.DRVH",
            "ai.HYST",
        ],
    );
    // Not two empty outputs: the ai's limits are there.
    assert!(
        ctrl.contains(&"Hi alarm limit: 90".to_string()),
        "{ctrl:#?}"
    );
    assert!(ctrl.contains(&"Lo warn limit: 30".to_string()), "{ctrl:#?}");
    let enums = run(
        &["caget", "-d", "DBR_CTRL_ENUM"],
        &[
            "bi",
            "bo",
            "mbbi",
            "mbbo",
            "ai.SEVR",
            "ai.STAT",
            "ai.HHSV",
            "ai.SCAN",
            "tick.SCAN",
            "wf.FTVL",
        ],
    );
    assert!(enums.contains(&"[ 2] two".to_string()), "{enums:#?}");
    run(&["caget", "-d", "DBR_CTRL_LONG"], &["li", "lo", "li.HIHI"]);
    run(
        &["caget", "-d", "DBR_STS_DOUBLE"],
        &["ai", "ao", "sum", "dis"],
    );
    run(
        &["caget", "-d", "DBR_STS_STRING"],
        &["si", "so", "bi", "ai.STAT", "ai.SEVR"],
    );
    run(&["caget", "-d", "DBR_GR_DOUBLE"], &["ai", "li"]);
    let fields = run(
        &["caget"],
        &[
            "ai.DESC",
            "ai.EGU",
            "ai.PREC",
            "ai.HIHI",
            "ai.SEVR",
            "ai.STAT",
            "ai.NAME",
            "ai.RTYP",
            "wf.NORD",
            "wf.NELM",
            "wf.EGU",
            "si.DESC",
            "sum.CALC",
            "sum.INPA",
            "lo.FLNK",
            "bi.ZNAM",
            "mbbo.TWST",
            "ai.UDF",
            "ao.UDF",
            "ai.VAL",
        ],
    );
    assert!(
        fields.contains(&format!("{p}ai.DESC an analog input")),
        "{fields:#?}"
    );
    let info: Vec<String> = run(
        &["cainfo"],
        &[
            "ai", "bi", "wf", "si", "ai.DESC", "ai.EGU", "ai.PREC", "ai.HIHI", "li.HIHI",
            "ai.SEVR", "ai.STAT", "wf.NORD", "wf.NELM", "wf.FTVL", "ai.UDF", "ai.FLNK", "sum.CALC",
            "ai.NAME", "bi.ZSV", "ai.PINI",
        ],
    );
    assert!(
        info.contains(&"Native data type: DBF_SHORT".to_string()),
        "{info:#?}"
    );
}

/// caput with drive limits, forward links, CP and PP links, DOL in
/// closed loop, PINI, calcout's output rule, SDIS, field writes and
/// read-only fields; caget -a after each.
#[test]
fn puts_links_and_alarms_match_softioc() {
    let p = "dbm2:";
    let Some(pair) = Pair::start(&records_db(), p, "ai") else {
        return;
    };
    let n = |name: &str| format!("{p}{name}");
    let put = |name: &str, value: &[&str]| {
        let pvn = n(name);
        let mut a = vec![pvn.as_str()];
        a.extend_from_slice(value);
        pair.same("caput", &a)
    };
    let get = |names: &[&str]| {
        let pvs: Vec<String> = names.iter().map(|x| n(x)).collect();
        let mut a = vec!["-a"];
        a.extend(pvs.iter().map(String::as_str));
        pair.same("caget", &a)
    };
    get(&[
        "ai", "ao", "dead", "bi", "bo", "mbbi", "mbbo", "li", "lo", "twice", "si", "so", "wf",
        "sum", "co", "coout", "dis", "closed", "init", "pp",
    ]);
    // Drive limits clamp (and the clamped value is what caput reads back).
    let clamped = put("ao", &["50"]);
    assert!(clamped.iter().any(|l| l.ends_with(" 10")), "{clamped:#?}");
    put("ao", &["-9"]);
    put("lo", &["100"]);
    get(&["ao", "lo", "twice"]);
    put("lo", &["0"]);
    get(&["lo", "twice", "lo.UDF"]);
    // Analog alarms with hysteresis, and the CP follower.
    for v in ["95", "86", "84", "20", "14", "16", "36"] {
        put("ai", &[v]);
        get(&["ai", "sum", "ai.SEVR", "ai.STAT", "ai.LALM"]);
    }
    // The same through our caproto-put, which writes a number with a
    // decimal point as DBR_DOUBLE and an integer as DBR_LONG: writes of
    // the record's own type take caproto-ioc's quick path (decoded into
    // VAL, processed in one call), caput's strings the general one.
    let native_put = |name: &str, v: &str| {
        for side in [Side::Soft, Side::Ours] {
            let env = pair.env(side);
            let mut cmd = env.own(env!("CARGO_BIN_EXE_caproto-put"));
            cmd.args([n(name).as_str(), v]);
            let out = env.run(&mut cmd, std::time::Duration::from_secs(20));
            assert!(out.status.is_some_and(|s| s.success()), "{out:?}");
        }
    };
    for (rec, v) in [
        ("ai", "95.5"),
        ("ai", "86.5"),
        ("ai", "84.5"),
        ("ai", "14.5"),
        ("ai", "36.5"),
        ("ai", "36.5"),
        ("ao", "50.5"),
        ("ao", "-3.5"),
        ("dead", "0.5"),
        ("dead", "2.5"),
        ("dead", "3.25"),
        ("li", "4"),
        ("li", "2"),
    ] {
        native_put(rec, v);
        get(&[
            rec,
            "sum",
            "ai.SEVR",
            "ai.STAT",
            "ai.LALM",
            "li.SEVR",
            "dead.MLST",
        ]);
    }
    // States and change of state.
    for (rec, v) in [
        ("bi", "1"),
        ("bo", "1"),
        ("mbbi", "2"),
        ("mbbi", "2"),
        ("mbbi", "0"),
        ("mbbo", "2"),
        ("bo", "0"),
    ] {
        put(rec, &[v]);
        get(&[rec]);
    }
    // stringout writes its OUT with PP; waveform NORD.
    put("so", &["world"]);
    get(&["si", "so"]);
    pair.same("caput", &["-a", &n("wf"), "3", "1", "2", "3"]);
    get(&["wf", "wf.NORD"]);
    // calcout writes on a transition to non-zero only.
    for v in ["7", "8", "2", "9"] {
        put("li", &[v]);
        get(&["co", "coout", "co.OVAL", "closed"]);
    }
    // A PP input link processes its passive source (lo, then FLNK twice) first.
    put("lo", &["3"]);
    put("pp.PROC", &["1"]);
    get(&["pp", "twice", "lo"]);
    // SDIS: bo (1: Closed) disables dis, with DISS as severity.
    put("bo", &["1"]);
    put("dis", &["5"]);
    get(&["dis", "dis.STAT", "dis.SEVR"]);
    put("bo", &["0"]);
    put("dis", &["6"]);
    get(&["dis"]);
    // Field writes: limits (which process the record), strings, and refusals.
    put("ai.HIHI", &["80"]);
    pair.same("caget", &["-d", "DBR_CTRL_DOUBLE", &n("ai")]);
    put("ai.EGU", &["cm"]);
    put("ai.DESC", &["new desc"]);
    put("ao.DRVH", &["5"]);
    get(&["ao", "ao.DRVH", "ai.EGU", "ai.DESC"]);
    put("ai.SEVR", &["1"]);
    put("wf.NORD", &["1"]);
    put("ai.HHSV", &["LOUD"]);
}

/// camonitor with DBE_VALUE|DBE_ALARM, DBE_LOG, DBE_ALARM and DBE_PROPERTY
/// masks, and on field channels, through deadbands, alarm transitions, CP
/// updates and property writes.
#[test]
fn monitor_sequences_match_softioc() {
    let p = "dbm3:";
    let Some(pair) = Pair::start(&records_db(), p, "ai") else {
        return;
    };
    let n = |name: &str| format!("{p}{name}");
    let sets: Vec<(Vec<String>, usize)> = vec![
        (
            vec!["-m".into(), "va".into(), n("dead"), n("sum"), n("ai")],
            26,
        ),
        (vec!["-m".into(), "l".into(), n("dead")], 3),
        (vec!["-m".into(), "a".into(), n("ai"), n("bi")], 11),
        (vec!["-m".into(), "p".into(), n("ai"), n("ao")], 4),
        (
            vec![
                n("ai.SEVR"),
                n("ai.STAT"),
                n("ai.HIHI"),
                n("wf.NORD"),
                n("bi.STAT"),
                n("bi.SEVR"),
            ],
            24,
        ),
    ];
    let mut results = Vec::new();
    for side in [Side::Soft, Side::Ours] {
        let mut mons: Vec<_> = sets
            .iter()
            .map(|(args, _)| {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                pair.camonitor(side, &a)
            })
            .collect();
        // Every PV's first event before the first write.
        for (mon, (args, _)) in mons.iter_mut().zip(&sets) {
            let pvs = args.iter().filter(|a| a.starts_with(p)).count();
            monitor_lines(mon, pvs, "initial monitor events");
        }
        let put = |name: &str, v: &[&str]| {
            let pvn = n(name);
            let mut a = vec!["-t", pvn.as_str()];
            a.extend_from_slice(v);
            let out = pair.run(side, "caput", &a);
            assert!(!out.iter().any(|l| l.contains("ERROR")), "{out:#?}");
        };
        for v in ["0.5", "1.5", "1.7", "2.6", "4", "4.5", "8"] {
            put("dead", &[v]);
        }
        for v in ["60", "72", "68", "64", "91", "86", "84", "20", "5"] {
            put("ai", &[v]);
        }
        for v in ["1", "1", "0"] {
            put("bi", &[v]);
        }
        put("ai.HIHI", &["95"]);
        put("ao.DRVH", &["5"]);
        put("ao.DESC", &["x"]);
        let pvn = n("wf");
        pair.run(side, "caput", &["-t", "-a", &pvn, "2", "1", "2"]);
        let got: Vec<_> = mons
            .iter_mut()
            .zip(&sets)
            .map(|(mon, (args, lines))| {
                by_pv(&monitor_lines(mon, *lines, &format!("camonitor {args:?}")))
            })
            .collect();
        results.push(got);
    }
    for ((soft, ours), (args, _)) in results[0].iter().zip(&results[1]).zip(&sets) {
        assert_eq!(
            ours,
            soft,
            "camonitor {args:?}: caproto-ioc (left) differs from softIoc (right)\n{}",
            pair.ours_log()
        );
    }
    // The deadbands did their job: MDEL 1 skipped 1.7 and 4.5, ADEL 3 all but 4 and 8.
    let dead_log = &results[1][1][&n("dead")];
    assert_eq!(dead_log.len(), 3, "{dead_log:#?}");
    assert!(dead_log[2].ends_with("TS 8"), "{dead_log:#?}");
}

/// A periodic record processes on its own: .1 second ticks count up by one
/// on both servers.
#[test]
fn periodic_scan_counts_like_softioc() {
    let p = "dbm4:";
    let Some(pair) = Pair::start(&records_db(), p, "tick") else {
        return;
    };
    pair.same("caget", &[&format!("{p}tick.SCAN")]);
    for side in [Side::Soft, Side::Ours] {
        let mut mon = pair.camonitor(side, &["-t", "-n", "-F", " ", &format!("{p}tick")]);
        let lines = monitor_lines(&mut mon, 6, "six ticks");
        let values: Vec<f64> = lines[..6]
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        for w in values.windows(2) {
            assert_eq!(w[1], w[0] + 1.0, "{side:?}: {values:?}");
        }
    }
}

/// A file softIoc refuses is refused by caproto-ioc too, at the same line,
/// before anything is served (both exit with status 2).
#[test]
fn broken_files_are_refused_like_softioc() {
    let env = common::CaEnv::new();
    let cases: &[(&str, &str, &str)] = &[
        ("field.db", "record(ai, \"a\") {\n  field(VAL, \"1\")\n  field(NOPE, \"1\")\n}\n", "does not have a field \"NOPE\""),
        ("menu.db", "record(ai, \"a\") {\n  field(HHSV, \"LOUD\")\n}\n", "can't set \"a.HHSV\" to \"LOUD\""),
        ("calc.db", "record(calc, \"a\") {\n\n  field(CALC, \"A+\")\n}\n", "can't set \"a.CALC\" to \"A+\""),
        ("number.db", "record(ai, \"a\") {\n  field(PREC, \"abc\")\n}\n", "can't set \"a.PREC\" to \"abc\""),
        ("long.db", "record(ai, \"a\") {\n  field(DESC, \"this description is much longer than forty characters\")\n}\n", "can't set \"a.DESC\""),
        ("syntax.db", "record(ai, \"a\") {\n  field(VAL, \"1\"\n}\n", "syntax error"),
    ];
    for (name, text, ours_says) in cases {
        let path = env.write_file(name, text);
        let Some(mut soft) = env.epics("softIoc") else {
            return;
        };
        soft.arg("-d").arg(&path).current_dir(env.dir());
        let soft = env.run(&mut soft, std::time::Duration::from_secs(20));
        let soft_text = format!("{}{}", soft.stdout, soft.stderr);
        assert_eq!(
            soft.status.and_then(|s| s.code()),
            Some(2),
            "{name}: {soft}"
        );
        let soft_line = soft_text
            .split("line ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name}: no line in softIoc's refusal: {soft_text}"));
        let mut ours = env.own(server_support::IOC_EXE);
        ours.arg("-d").arg(&path);
        let ours = env.run(&mut ours, std::time::Duration::from_secs(20));
        assert_eq!(
            ours.status.and_then(|s| s.code()),
            Some(2),
            "{name}: {ours}"
        );
        let expected = format!("{}:{soft_line}: ", path.display());
        assert!(
            ours.stderr.contains(&expected) && ours.stderr.contains(ours_says),
            "{name}: wanted {expected:?} and {ours_says:?} as softIoc says\n{soft_text}\nin: {}",
            ours.stderr
        );
    }
}
