//! The README's examples are run as written, so it cannot drift from the tools.
//!
//! - Every ```` ```console ```` block: each `$ caproto-get|put|monitor|info ...`
//!   line runs, in README order, against one `caproto-ioc simple --prefix demo:`
//!   started here (the README's quick start serves the same IOC), with the
//!   test's loopback environment. It must exit 0; output lines shown under it
//!   (other than log lines and `...`) must be what it prints. Lines with shell
//!   operators (pipes, redirections, `sudo`) and other programs are not run.
//! - The ```` ```sh ```` block under "Shell completions and man pages" runs with
//!   `HOME` in a temp dir and must install every completion and man page.
//!
//! - The ```` ```sh ```` block under "Decode anyone's traffic: caproto-shark": its
//!   `caproto-shark` lines that read a file run on a capture written here (a
//!   hand-built CA session about `motor:x` between 10.0.0.1 and 10.0.0.2); the
//!   live `tcpdump` pipe needs root and a network, and is tested in shark_cli.
//!
//! - The ```` ```sh ```` block under "Serve your own PVs": its first line runs in
//!   `sh` in a temp dir, its `caproto-ioc -d` line serves the file written, and
//!   the record must answer with the value the file gives it.
//!
//! Rust examples in the README are doc tests (`src/lib.rs` includes it).

mod common;
mod shark_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{run_with_timeout, wait_for_server, CaEnv, TempDir};

/// One fenced block of the README: its info string and lines.
struct Block {
    info: String,
    heading: String,
    lines: Vec<String>,
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(path).expect("README.md is readable")
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut current: Option<Block> = None;
    for line in text.lines() {
        if let Some(block) = current.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(current.take().expect("inside a block"));
            } else {
                block.lines.push(line.to_string());
            }
        } else if let Some(info) = line.trim_start().strip_prefix("```") {
            current = Some(Block {
                info: info.trim().to_string(),
                heading: heading.clone(),
                lines: Vec::new(),
            });
        } else if line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().to_string();
        }
    }
    assert!(current.is_none(), "README has an unclosed code block");
    out
}

/// A command line split as a POSIX shell would for the simple cases the
/// README uses (single and double quotes, no expansions). `None` when the line
/// needs a real shell (pipes, redirections, substitutions, background jobs).
fn shell_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    if c == '$' || c == '`' {
                        return None;
                    }
                    word.push(c);
                }
            }
            '#' if !in_word => break,
            '|' | '>' | '<' | '&' | ';' | '$' | '`' | '(' | ')' => return None,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// A README command and the output the README shows for it.
struct Example {
    words: Vec<String>,
    shown: Vec<String>,
}

/// The client tools whose README lines this test runs.
const RUN: [&str; 4] = [
    "caproto-get",
    "caproto-put",
    "caproto-monitor",
    "caproto-info",
];

fn examples(text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    for block in blocks(text).into_iter().filter(|b| b.info == "console") {
        let mut collecting = false;
        for line in &block.lines {
            if let Some(cmd) = line.strip_prefix("$ ") {
                collecting = false;
                let Some(words) = shell_words(cmd) else {
                    continue;
                };
                if words.first().is_some_and(|w| RUN.contains(&w.as_str())) {
                    out.push(Example {
                        words,
                        shown: Vec::new(),
                    });
                    collecting = true;
                }
            } else if collecting {
                let t = line.trim_end();
                // Log lines carry clocks and ports; `...` elides; `#` comments.
                if t.is_empty() || t.starts_with('[') || t == "..." || t.starts_with('#') {
                    continue;
                }
                out.last_mut()
                    .expect("collecting")
                    .shown
                    .push(t.to_string());
            }
        }
    }
    out
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_caproto-get"))
        .parent()
        .expect("binaries live in a directory")
        .to_path_buf()
}

#[test]
fn console_examples_run_as_written() {
    let text = readme();
    let examples = examples(&text);
    assert!(
        examples.len() >= 8,
        "expected the README's tool examples, found {}",
        examples.len()
    );
    let env = CaEnv::new();
    let bins = bin_dir();
    let mut ioc = env.spawn(
        "caproto-ioc",
        env.own(bins.join("caproto-ioc"))
            .args(["simple", "--prefix", "demo:"]),
    );
    wait_for_server(&env, &mut ioc, "demo:A");
    let work = TempDir::new("readme");
    for ex in &examples {
        let tool = &ex.words[0];
        if tool == "caproto-monitor" {
            assert!(
                ex.words
                    .iter()
                    .any(|w| w.starts_with("--maximum") || w.starts_with("--duration")),
                "README monitor examples must end by themselves: {:?}",
                ex.words
            );
        }
        let mut cmd = env.own(bins.join(tool));
        // First, so a tool that takes trailing values cannot read it as one.
        cmd.arg("--no-repeater")
            .args(&ex.words[1..])
            .current_dir(work.path());
        let run = run_with_timeout(&mut cmd, Duration::from_secs(30));
        let stdout = run.expect_success(&format!("README example `{}`", ex.words.join(" ")));
        if !ex.shown.is_empty() {
            let got: Vec<&str> = stdout.lines().map(str::trim_end).collect();
            assert_eq!(
                got,
                ex.shown,
                "README example `{}` printed something else",
                ex.words.join(" ")
            );
        }
    }
    ioc.assert_running();
}

#[test]
fn completion_and_man_page_install_lines_work() {
    let text = readme();
    let block = blocks(&text)
        .into_iter()
        .find(|b| b.info == "sh" && b.heading == "Shell completions and man pages")
        .expect("README has a `sh` block under \"Shell completions and man pages\"");
    let home = TempDir::new("readme-home");
    let script = block.lines.join("\n");
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", &script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME");
    run_with_timeout(&mut cmd, Duration::from_secs(60)).expect_success("README install lines");

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut binaries: Vec<String> = std::fs::read_dir(root.join("src/bin"))
        .expect("src/bin")
        .map(|e| {
            let p = e.expect("dir entry").path();
            p.file_stem()
                .expect("a file")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    binaries.sort();
    let h = home.path();
    for name in &binaries {
        for installed in [
            h.join(".local/share/bash-completion/completions")
                .join(name),
            h.join(".local/share/zsh/site-functions")
                .join(format!("_{name}")),
            h.join(".config/fish/completions")
                .join(format!("{name}.fish")),
            h.join(".local/share/man/man1").join(format!("{name}.1")),
        ] {
            assert!(
                installed.is_file(),
                "README install lines did not install {}",
                installed.display()
            );
        }
    }
}

/// A CA session between 10.0.0.1 and a server at 10.0.0.2:5064 about
/// `motor:x`, as pcap and pcapng bytes (Ethernet link).
fn motor_capture() -> (Vec<u8>, Vec<u8>) {
    use shark_support::*;
    let (c, s) = (addr("10.0.0.1:40001"), addr("10.0.0.2:5064"));
    let ips = [
        udp(c, addr("10.0.0.255:5064"), &search_req("motor:x", 1)),
        udp(s, c, &search_resp(5064, 1)),
        tcp(c, s, 99, SYN, &[]),
        tcp(s, c, 499, SYN | ACK, &[]),
        tcp(
            c,
            s,
            100,
            ACK,
            &[version(), create_req("motor:x", 1)].concat(),
        ),
        tcp(s, c, 500, ACK, &create_resp(1, 10)),
        tcp(c, s, 140, ACK, &read_req(10, 1)),
        tcp(s, c, 516, ACK, &read_resp(1, 1.5)),
    ];
    let pkts: Vec<Pkt> = ips
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Pkt::new(
                1_700_000_000_000_000 + i as u64 * 1000,
                Link::Ethernet.frame(p),
            )
        })
        .collect();
    (pcap(1, &pkts, false, false), pcapng(1, &pkts, false))
}

#[test]
fn shark_examples_run_as_written() {
    let text = readme();
    let block = blocks(&text)
        .into_iter()
        .find(|b| b.info == "sh" && b.heading.starts_with("Decode anyone's traffic"))
        .expect("README has a `sh` block under \"Decode anyone's traffic: caproto-shark\"");
    let work = TempDir::new("readme-shark");
    let (pcap, pcapng) = motor_capture();
    std::fs::write(work.join("capture.pcap"), pcap).expect("write capture.pcap");
    std::fs::write(work.join("capture.pcapng"), pcapng).expect("write capture.pcapng");
    let mut ran = 0;
    for line in &block.lines {
        let Some(words) = shell_words(line) else {
            continue; // the live tcpdump pipe
        };
        if words.first().map(String::as_str) != Some("caproto-shark") {
            continue;
        }
        let mut cmd = Command::new(bin_dir().join("caproto-shark"));
        cmd.args(&words[1..]).current_dir(work.path());
        let run = run_with_timeout(&mut cmd, Duration::from_secs(30));
        let out = run.expect_success(&format!("README example `{line}`"));
        assert!(
            out.contains("motor:x"),
            "README example `{line}` said nothing about motor:x:\n{run}"
        );
        ran += 1;
    }
    assert!(
        ran >= 2,
        "expected the README's caproto-shark file examples, ran {ran}"
    );
}

#[test]
fn serve_your_own_pvs_runs_as_written() {
    let text = readme();
    let block = blocks(&text)
        .into_iter()
        .find(|b| b.info == "sh" && b.heading.starts_with("Serve your own PVs"))
        .expect("README has a `sh` block under \"Serve your own PVs\"");
    assert_eq!(block.lines.len(), 2, "two lines: {:?}", block.lines);
    let env = CaEnv::new();
    let write = run_with_timeout(
        Command::new("sh")
            .args(["-c", &block.lines[0]])
            .current_dir(env.dir()),
        Duration::from_secs(10),
    );
    write.expect_success("the README's printf line");
    let words = shell_words(&block.lines[1]).expect("a plain command");
    assert_eq!(words[0], "caproto-ioc");
    let mut cmd = env.own(bin_dir().join("caproto-ioc"));
    cmd.args(&words[1..]).current_dir(env.dir());
    let mut ioc = env.spawn("caproto-ioc", &mut cmd);
    wait_for_server(&env, &mut ioc, "demo:temp");
    let mut get = env.own(bin_dir().join("caproto-get"));
    get.args(["--no-repeater", "demo:temp", "demo:temp.EGU"]);
    let out = run_with_timeout(&mut get, Duration::from_secs(30));
    let shown = common_lines(out.expect_success("caproto-get demo:temp"));
    assert_eq!(shown, ["demo:temp [21.5]", "demo:temp.EGU [C]"]);
    assert!(ioc.log_contents().contains("demo:temp"), "--list-pvs");
}

/// Lines with runs of spaces collapsed.
fn common_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        shell_words("caproto-get -d time 'a b' \"c:d\" # note"),
        Some(
            vec!["caproto-get", "-d", "time", "a b", "c:d"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    assert_eq!(shell_words("caproto-get demo:A | head"), None);
    assert_eq!(shell_words("caproto-get demo:A > out.txt"), None);
    assert_eq!(shell_words("caproto-get \"$PV\""), None);
}
