//! Our caproto-get against EPICS softIoc (tests/fixtures/ioc.db) and a
//! caproto example server, with caproto's caproto-get run on the same PVs
//! for comparison wherever the output is meant to be identical.

mod common;
mod tools_support;

use common::{CaEnv, ChildGuard};
use tools_support::{
    assert_lines_eq, count_commands, default_line, ours, ours_ok, same_as_caproto, theirs, Tool,
};

fn ioc(env: &CaEnv, prefix: &str) -> Option<ChildGuard> {
    common::softioc_fixture(env, prefix)
}

fn names(prefix: &str, records: &[&str]) -> Vec<String> {
    records.iter().map(|r| format!("{prefix}{r}")).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The line of `out` for `pv` (the PV name is the first word).
fn line_of<'a>(out: &'a str, pv: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(pv))
        .unwrap_or_else(|| panic!("no line for {pv} in:\n{out}"))
}

#[test]
fn every_native_type_prints_as_caproto_get_does() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg1:") else {
        return;
    };
    let pvs = names(
        "tg1:",
        &[
            "ai",
            "ai_alarm",
            "ao",
            "bi",
            "bo",
            "mbbi",
            "mbbo",
            "stringin",
            "stringout",
            "longin",
            "longout",
            "wave_d",
            "wave_s",
            "wave_f",
            "wave_l",
            "wave_str",
            "wave_c",
        ],
    );
    let out = same_as_caproto(&env, Tool::Get, &strs(&pvs));
    // One line per PV, in the order given.
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(order, strs(&pvs), "{out}");
    for (pv, data) in [
        ("tg1:ai", "[3.5]"),
        ("tg1:ai_alarm", "[95]"),
        ("tg1:ao", "[1.5]"),
        ("tg1:bi", "[On]"),
        ("tg1:bo", "[Closed]"),
        ("tg1:mbbi", "[two]"),
        ("tg1:mbbo", "[Moving]"),
        ("tg1:stringin", "[hello]"),
        ("tg1:stringout", "[world]"),
        ("tg1:longin", "[42]"),
        ("tg1:longout", "[-7]"),
        ("tg1:wave_d", "[1.5 2.5 3.5 4.5 5.5]"),
        ("tg1:wave_s", "[1 -2 3]"),
        ("tg1:wave_f", "[0.5 1.25]"),
        ("tg1:wave_l", "[100000 -100000 7]"),
        ("tg1:wave_str", "[alpha beta]"),
    ] {
        assert_eq!(line_of(&out, pv), default_line(pv, data));
    }
    let wave_c = line_of(&out, "tg1:wave_c");
    assert!(
        wave_c.ends_with(" 114 115 0]") && wave_c.contains("[97 32 108 111 110 103 32"),
        "{wave_c}"
    );
}

#[test]
fn requested_types_are_converted_by_the_server() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg2:") else {
        return;
    };
    let pvs = ["tg2:ai", "tg2:longin", "tg2:mbbi", "tg2:wave_s"];
    let expect_ai = [
        ("STRING", "[3.500]"),
        ("INT", "[3]"),
        ("FLOAT", "[3.5]"),
        ("ENUM", "[3]"),
        ("CHAR", "[3]"),
        ("LONG", "[3]"),
        ("6", "[3.5]"),
        ("time_double", "[3.5]"),
        ("DBR_STS_STRING", "[3.500]"),
        ("native", "[3.5]"),
        ("status", "[3.5]"),
        ("time", "[3.5]"),
        ("graphic", "[3.5]"),
        ("control", "[3.5]"),
    ];
    for (t, ai) in expect_ai {
        let mut args = vec!["-d", t];
        args.extend(pvs);
        let out = same_as_caproto(&env, Tool::Get, &args);
        assert_eq!(
            line_of(&out, "tg2:ai"),
            default_line("tg2:ai", ai),
            "-d {t}"
        );
        assert_eq!(
            line_of(&out, "tg2:longin").split_whitespace().nth(1),
            Some("[42]")
        );
    }
    // Enums as strings from the server.
    let out = same_as_caproto(&env, Tool::Get, &["-d", "STRING", "tg2:mbbi"]);
    assert_eq!(out.trim_end(), default_line("tg2:mbbi", "[two]"));
}

#[test]
fn enums_print_as_state_strings_or_numbers() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg3:") else {
        return;
    };
    let pvs = ["tg3:mbbi", "tg3:bo", "tg3:bi", "tg3:mbbo"];
    let strings = same_as_caproto(&env, Tool::Get, &pvs);
    let mut args = vec!["-n"];
    args.extend(pvs);
    let numbers = same_as_caproto(&env, Tool::Get, &args);
    for (pv, s, n) in [
        ("tg3:mbbi", "[two]", "[2]"),
        ("tg3:bo", "[Closed]", "[0]"),
        ("tg3:bi", "[On]", "[1]"),
        ("tg3:mbbo", "[Moving]", "[1]"),
    ] {
        assert_eq!(line_of(&strings, pv), default_line(pv, s));
        assert_eq!(line_of(&numbers, pv), default_line(pv, n));
    }
    // Terse mode unpacks scalars.
    let terse = same_as_caproto(&env, Tool::Get, &["-t", "tg3:mbbi", "tg3:ai"]);
    assert_eq!(terse, "two\n3.5\n");
}

#[test]
fn char_waveform_as_long_string() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg4:") else {
        return;
    };
    let text = "a long string that does not fit in forty characters";
    let out = ours_ok(&env, Tool::Get, &["-S", "tg4:wave_c"]);
    assert_eq!(out, format!("{}\n", default_line("tg4:wave_c", text)));
    // caproto prints the terminating NUL too; otherwise the lines agree.
    if let Some(theirs) = theirs(&env, Tool::Get, &["-S", "tg4:wave_c"]) {
        let theirs = theirs.expect_success("caproto-get -S").replace('\0', "");
        assert_lines_eq(&out, &theirs, "-S tg4:wave_c");
    }
    // caget -S reads the same text.
    if let Some(caget) = tools_support::epics_caget(&env, &["-S"], "tg4:wave_c") {
        assert_eq!(caget, text);
    }
}

#[test]
fn alarm_status_timestamps_and_control_metadata() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg5:") else {
        return;
    };
    // Wide mode: server timestamp, value and status (records processed once
    // at start-up, so both tools see the same timestamp).
    let wide = same_as_caproto(
        &env,
        Tool::Get,
        &[
            "-a",
            "tg5:ai_alarm",
            "tg5:ai",
            "tg5:wave_s",
            "tg5:mbbi",
            "tg5:stringin",
            "tg5:wave_f",
        ],
    );
    let alarm = line_of(&wide, "tg5:ai_alarm");
    let words: Vec<&str> = alarm.split_whitespace().collect();
    assert_eq!(words.len(), 5, "{alarm}");
    assert_eq!(&words[3..], ["[95]", "ECA_NORMAL"], "{alarm}");
    assert!(words[1].len() == 10 && words[2].len() == 15, "{alarm}");

    // Alarm state through the STS and TIME classes.
    let alarm_fmt =
        "{pv_name} {response.metadata.status} {response.metadata.severity} {response.data}";
    for class in ["status", "time", "DBR_TIME_DOUBLE", "control"] {
        let out = same_as_caproto(
            &env,
            Tool::Get,
            &["-d", class, "--format", alarm_fmt, "tg5:ai_alarm", "tg5:ai"],
        );
        assert_eq!(
            out, "tg5:ai_alarm 3 2 [95]\ntg5:ai 0 0 [3.5]\n",
            "-d {class}"
        );
    }
    let stamp = same_as_caproto(
        &env,
        Tool::Get,
        &[
            "-d",
            "time",
            "--format",
            "{timestamp:%Y-%m-%d %H:%M:%S.%f} {response.data}",
            "tg5:ai",
        ],
    );
    assert!(stamp.trim_end().ends_with(" [3.5]"), "{stamp}");

    // Display and control limits, units, precision.
    let ctrl_fmt = "{response.metadata.units} {response.metadata.precision} \
                    {response.metadata.upper_disp_limit} {response.metadata.lower_disp_limit} \
                    {response.metadata.upper_alarm_limit} {response.metadata.upper_warning_limit} \
                    {response.metadata.lower_warning_limit} {response.metadata.lower_alarm_limit} \
                    {response.metadata.upper_ctrl_limit} {response.metadata.lower_ctrl_limit}";
    let out = same_as_caproto(
        &env,
        Tool::Get,
        &["-d", "control", "--format", ctrl_fmt, "tg5:ai"],
    );
    assert_eq!(
        out,
        "b'mm' 3 100.0 -100.0 90.0 50.0 -50.0 -90.0 100.0 -100.0\n"
    );
    let int_fmt = "{response.metadata.units} {response.metadata.upper_disp_limit} \
                   {response.metadata.lower_disp_limit} {response.metadata.upper_ctrl_limit}";
    let out = same_as_caproto(
        &env,
        Tool::Get,
        &["-d", "control", "--format", int_fmt, "tg5:longin"],
    );
    assert_eq!(out, "b'counts' 1000 -1000 1000\n");
    let out = same_as_caproto(
        &env,
        Tool::Get,
        &[
            "-d",
            "graphic",
            "--format",
            int_fmt
                .replace(" {response.metadata.upper_ctrl_limit}", "")
                .as_str(),
            "tg5:wave_s",
            "tg5:wave_f",
        ],
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = same_as_caproto(
        &env,
        Tool::Get,
        &[
            "-d",
            "control",
            "--format",
            "{response.metadata.enum_strings}",
            "tg5:mbbi",
        ],
    );
    assert_eq!(out, "(b'zero', b'one', b'two', b'three', b'four')\n");
}

#[test]
fn element_count_and_full_size_waveform() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg6:") else {
        return;
    };
    let out = same_as_caproto(&env, Tool::Get, &["-#", "2", "tg6:wave_d"]);
    assert_eq!(out.trim_end(), default_line("tg6:wave_d", "[1.5 2.5]"));

    // Fill all 100000 elements (800 kB: extended headers both ways).
    let n = 100_000;
    let values: Vec<String> = (0..n).map(|i| format!("{}", f64::from(i) * 0.5)).collect();
    let file = env.write_file("wave_d.txt", &values.join(" "));
    let file = file.to_str().expect("utf-8 temp path");
    let put = ours(&env, Tool::Put, &["-a", "--file", "tg6:wave_d", file]);
    put.expect_success("our caproto-put of 100000 doubles");
    if let Some(caget) = tools_support::epics_caget(&env, &[], "tg6:wave_d") {
        let words: Vec<&str> = caget.split_whitespace().collect();
        assert_eq!(
            words.len(),
            n as usize + 1,
            "caget prints the count, then the values"
        );
        assert_eq!(
            (words[0], words[2], words[n as usize]),
            ("100000", "0.5", "49999.5")
        );
    }
    let out = same_as_caproto(
        &env,
        Tool::Get,
        &[
            "--format",
            "{response.data_count} {response.data[0]} {response.data[1]} {response.data[99999]}",
            "tg6:wave_d",
        ],
    );
    assert_eq!(out, "100000 0.0 0.5 49999.5\n");
    // The whole array, every element printed (%g), as caproto-get does.
    let out = same_as_caproto(&env, Tool::Get, &["tg6:wave_d"]);
    let data = out
        .trim_end()
        .strip_prefix(&default_line("tg6:wave_d", "["))
        .and_then(|d| d.strip_suffix(']'))
        .unwrap_or_else(|| panic!("unexpected layout: {}", &out[..out.len().min(200)]));
    let elements: Vec<&str> = data.split(' ').collect();
    assert_eq!(elements.len(), n as usize);
    assert_eq!(
        (elements[0], elements[1], elements[99_999]),
        ("0", "0.5", "49999.5")
    );
}

#[test]
fn unknown_pv_fails_within_the_timeout_with_a_message() {
    // Nothing serves these names; no peer needed.
    let env = CaEnv::new();
    let out = ours(&env, Tool::Get, &["-w", "1", "tg7:nope"]);
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(
        out.stderr.contains("tg7:nope") && out.stderr.contains("search"),
        "{out}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "one line per failure: {out}");
}

#[test]
fn known_pvs_print_even_when_another_is_unknown() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg8:") else {
        return;
    };
    // 5 s: long enough for the known PVs on a loaded machine; the unknown
    // one costs the whole wait.
    let out = ours(
        &env,
        Tool::Get,
        &["-w", "5", "tg8:ai", "tg8:nope", "tg8:longin"],
    );
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert_eq!(
        out.stdout,
        format!(
            "{}\n{}\n",
            default_line("tg8:ai", "[3.5]"),
            default_line("tg8:longin", "[42]")
        )
    );
    assert!(out.stderr.contains("tg8:nope"), "{out}");
}

#[test]
fn vvv_logs_one_record_per_command() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg9:") else {
        return;
    };
    let args = ["-vvv", "tg9:ai", "tg9:longin"];
    let out = ours(&env, Tool::Get, &args);
    out.expect_success("caproto-get -vvv");
    let stderr = out.stderr.clone();
    assert_eq!(
        out.stdout,
        format!(
            "{}\n{}\n",
            default_line("tg9:ai", "[3.5]"),
            default_line("tg9:longin", "[42]")
        )
    );
    let send = "--->>>";
    let recv = "<<<---";
    let per_pv = [
        (send, "CreateChanRequest"),
        (recv, "CreateChanResponse"),
        (send, "ReadNotifyRequest"),
        (recv, "ReadNotifyResponse"),
    ];
    for (dir, cmd) in per_pv {
        assert_eq!(
            count_commands(&stderr, dir, cmd),
            2,
            "{cmd} {dir}\n{stderr}"
        );
    }
    // One circuit: one TCP handshake (the search datagrams carry their own
    // VersionRequest, hence at least one).
    assert_eq!(
        count_commands(&stderr, send, "HostNameRequest"),
        1,
        "{stderr}"
    );
    assert_eq!(
        count_commands(&stderr, send, "ClientNameRequest"),
        1,
        "{stderr}"
    );
    assert!(
        count_commands(&stderr, send, "VersionRequest") >= 1,
        "{stderr}"
    );
    assert!(
        count_commands(&stderr, send, "SearchRequest") >= 2,
        "{stderr}"
    );
    assert!(
        count_commands(&stderr, recv, "SearchResponse") >= 2,
        "{stderr}"
    );
    // Each record names the PV where there is one, and the addresses.
    let port = format!("127.0.0.1:{}", env.server_port());
    for l in tools_support::command_lines(&stderr) {
        assert!(l.contains(&port), "{l}");
        if l.contains("ReadNotifyRequest(") {
            assert!(l.contains(" tg9:ai ") || l.contains(" tg9:longin "), "{l}");
        }
    }
    // caproto's own -vvv shows the same per-PV commands (caproto's tools
    // write their log to standard output).
    if let Some(theirs) = theirs(&env, Tool::Get, &args) {
        let log = theirs.expect_success("caproto-get -vvv");
        for (dir, cmd) in per_pv {
            assert_eq!(
                count_commands(log, dir, cmd),
                count_commands(&stderr, dir, cmd),
                "{cmd} {dir}: caproto's log\n{log}"
            );
        }
    }
}

#[test]
fn json_log_records_carry_the_contract_fields() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tg10:") else {
        return;
    };
    let out = ours(&env, Tool::Get, &["-vv", "--log-format", "json", "tg10:ai"]);
    out.expect_success("caproto-get -vv --log-format json");
    let records: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let circ: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["target"] == "caproto::circ")
        .collect();
    let count = |dir: &str, cmd: &str| {
        circ.iter()
            .filter(|r| r["direction"] == dir)
            .filter(|r| r["command"].as_str().is_some_and(|c| c.starts_with(cmd)))
            .count()
    };
    assert_eq!(count("send", "VersionRequest("), 1, "{}", out.stderr);
    assert_eq!(count("send", "CreateChanRequest("), 1, "{}", out.stderr);
    assert_eq!(count("recv", "CreateChanResponse("), 1, "{}", out.stderr);
    assert_eq!(count("send", "ReadNotifyRequest("), 1, "{}", out.stderr);
    assert_eq!(count("recv", "ReadNotifyResponse("), 1, "{}", out.stderr);
    for r in &circ {
        assert_eq!(r["role"], "client", "{r}");
        assert_eq!(
            r["their_addr"],
            format!("127.0.0.1:{}", env.server_port()),
            "{r}"
        );
        assert!(r["bytes"].as_u64().is_some_and(|b| b >= 16), "{r}");
    }
    let read = circ
        .iter()
        .find(|r| {
            r["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("ReadNotifyRequest("))
        })
        .expect("a ReadNotifyRequest record");
    assert_eq!(read["pv"], "tg10:ai");
}

/// Kills a process by pid when dropped (repeaters our tool started).
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
    }
}

#[test]
fn starts_a_repeater_once_and_reuses_it() {
    let env = CaEnv::new();
    let exe = env!("CARGO_BIN_EXE_caproto-get");
    let run = || {
        // Without --no-repeater; nothing serves the name.
        let mut cmd = env.own(exe);
        cmd.args(["-vv", "-w", "0.5", "tg11:nope"]);
        env.run(&mut cmd, tools_support::RUN)
    };
    let first = run();
    let pid = first
        .stderr
        .lines()
        .find_map(|l| l.split("started caproto-repeater (pid ").nth(1))
        .and_then(|rest| rest.trim_end_matches(')').parse::<u32>().ok());
    let _kill = KillOnDrop(pid);
    assert!(pid.is_some(), "no repeater started:\n{first}");
    assert_eq!(first.status.and_then(|s| s.code()), Some(1), "{first}");
    // It outlives the tool and holds the repeater port.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !common::ports::udp_port_in_use(env.repeater_port()) {
        assert!(
            std::time::Instant::now() < deadline,
            "repeater never bound its port"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The second run finds that repeater (it says so at -vvv), starts none, and the
    // first one is still the process that holds the port.
    let mut cmd = env.own(exe);
    cmd.args(["-vvv", "-w", "0.5", "tg11:nope"]);
    let second = env.run(&mut cmd, tools_support::RUN);
    assert_eq!(second.status.and_then(|s| s.code()), Some(1), "{second}");
    assert!(
        !second.stderr.contains("started caproto-repeater"),
        "a second repeater was started:\n{second}"
    );
    assert!(
        second.stderr.contains(&format!(
            "a repeater already listens on 127.0.0.1:{}",
            env.repeater_port()
        )),
        "the second run did not find the repeater:\n{second}"
    );
    let pid = pid.unwrap();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the first repeater (pid {pid}) is gone"
    );
    assert!(common::ports::udp_port_in_use(env.repeater_port()));
}

#[test]
fn caproto_server_values_print_as_caproto_get_does() {
    let env = CaEnv::new();
    let Some(_server) = common::caproto_example(&env, "scalars_and_arrays", "tg12:", "scalar_int")
    else {
        return;
    };
    let pvs = names(
        "tg12:",
        &[
            "scalar_int",
            "scalar_int2",
            "array_int",
            "scalar_float",
            "array_float",
            "scalar_string",
            "array_string",
            "byte",
            "char",
            "enum",
        ],
    );
    let out = same_as_caproto(&env, Tool::Get, &strs(&pvs));
    assert_eq!(
        line_of(&out, "tg12:scalar_int"),
        default_line("tg12:scalar_int", "[1]")
    );
    assert_eq!(
        line_of(&out, "tg12:enum"),
        default_line("tg12:enum", "[no]")
    );
    let mut args = vec!["-n"];
    args.extend(strs(&pvs));
    let numbers = same_as_caproto(&env, Tool::Get, &args);
    assert_eq!(
        line_of(&numbers, "tg12:enum"),
        default_line("tg12:enum", "[0]")
    );
    let mut args = vec!["-a"];
    args.extend(strs(&pvs));
    same_as_caproto(&env, Tool::Get, &args);
    let out = same_as_caproto(
        &env,
        Tool::Get,
        &[
            "-d",
            "control",
            "--format",
            "{response.metadata.precision} {response.data}",
            "tg12:scalar_float",
        ],
    );
    assert_eq!(out, "5 [1.01]\n");
    let out = ours_ok(&env, Tool::Get, &["-S", "tg12:char"]);
    assert_eq!(out, format!("{}\n", default_line("tg12:char", "char0123")));
}
