//! `caproto-shark --top` in a real terminal: tmux (a private server, `tmux -L`) runs
//! `tcpdump -i lo -U -w - <this test's ports> | caproto-shark --top` at 200x50 while our
//! caproto-get hammers one PV of our caproto-ioc and reads another once. Read back with
//! `capture-pane`:
//! - the view is live and the hammered PV is the busiest (first row of the PV table), its
//!   server in the server table;
//! - a sort key changes the sort column;
//! - `q` ends caproto-shark with status 0, the alternate screen left and the terminal out of
//!   raw mode (`stty` shows `icanon` and `echo` again).
//!
//! A capture file shows its final picture (rates averaged over the capture) until `q`.
//!
//! Every wait is on something observable on the screen or in a file, with a deadline.

mod common;
mod shark_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::CaEnv;

const SHARK: &str = env!("CARGO_BIN_EXE_caproto-shark");
const GET: &str = env!("CARGO_BIN_EXE_caproto-get");
const T: Duration = Duration::from_secs(60);

fn find(tool: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return Some(p);
        }
    }
    common::peers::missing(tool, &Path::new("/usr/bin").join(tool))
}

/// A tmux server on a socket of its own; killed (by that socket) when dropped.
struct Tmux {
    exe: PathBuf,
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(["-u", "-L", &self.socket]);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.screen_of("top")
    }

    fn screen_of(&self, session: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", session])
    }

    /// Waits until the screen satisfies `pred`; returns it.
    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_screen_of("top", what, pred)
    }

    fn wait_screen_of(&self, session: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + T;
        loop {
            let s = self.screen_of(session);
            if pred(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "{what} never showed:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// The first data row under the PV table's header line.
fn first_pv_row(screen: &str) -> Option<&str> {
    let mut lines = screen.lines();
    lines.find(|l| l.contains("│PV") && l.contains("msg/s"))?;
    lines.next()
}

#[test]
fn top_on_a_live_tcpdump_pipe() {
    let Some(tmux_exe) = find("tmux") else {
        return;
    };
    let Some(tcpdump) = find("tcpdump") else {
        return;
    };
    let env = CaEnv::new();
    let mut cmd = common::servers::our_ioc_command(&env);
    cmd.args(["simple", "--prefix", "top:"]);
    let mut ioc = common::servers::spawn_our_ioc(&env, "caproto-ioc", &mut cmd);
    common::wait_for_server(&env, &mut ioc, "top:A");

    let port = env.server_port();
    let status_file = env.dir().join("shark-exit");
    let script = format!(
        "'{tcpdump}' -i lo -U -s 0 -w - 'port {port} or port {rport}' 2>'{dir}/tcpdump.err' \
         | ( '{SHARK}' --top --port {port}; echo \"shark-exit=$?\" >'{status}'; \
             stty -a </dev/tty >>'{status}' 2>&1 )",
        tcpdump = tcpdump.display(),
        rport = env.repeater_port(),
        dir = env.dir().display(),
        status = status_file.display(),
    );
    let tmux = Tmux {
        exe: tmux_exe,
        socket: format!("caproto-top-{}-{port}", std::process::id()),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "200",
        "-y",
        "50",
        "-s",
        "top",
        "sh",
        "-c",
        &format!("{script}; exec sleep 600"),
    ]);
    tmux.wait_screen("the live view", |s| {
        s.contains("caproto-shark --top") && s.contains("live")
    });
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "top", "#{alternate_on}"])
            .trim(),
        "1",
        "the view is on the alternate screen"
    );
    // tcpdump listens before any traffic is sent.
    let deadline = Instant::now() + T;
    while !std::fs::read_to_string(env.dir().join("tcpdump.err"))
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(Instant::now() < deadline, "tcpdump did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // top:B once, top:A until the test is done.
    let get = |pv: &str| {
        let mut c = env.own(GET);
        c.args(["--no-repeater", "--timeout", "5", pv]);
        c
    };
    env.run(&mut get("top:B"), T)
        .expect_success("caproto-get top:B");
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let stop = Arc::clone(&stop);
        let mut c = get("top:A");
        c.args(["top:A", "top:A", "top:A"]);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let _ = c.output();
            }
        })
    };

    let screen = tmux.wait_screen("top:A as the busiest PV", |s| {
        first_pv_row(s).is_some_and(|r| r.contains("top:A"))
    });
    assert!(
        screen.contains(&format!("127.0.0.1:{port}")),
        "the IOC is among the servers:\n{screen}"
    );
    assert!(
        screen.contains("top:B"),
        "the other PV is listed:\n{screen}"
    );

    tmux.run(&["send-keys", "-t", "top", "3"]);
    tmux.wait_screen("the sort by messages", |s| s.contains("sort: messages"));
    tmux.run(&["send-keys", "-t", "top", "q"]);
    let deadline = Instant::now() + T;
    let status = loop {
        let s = std::fs::read_to_string(&status_file).unwrap_or_default();
        if s.contains("shark-exit=") && s.contains("echo") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "caproto-shark did not exit after q: {s:?}\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    stop.store(true, Ordering::SeqCst);
    hammer.join().unwrap();
    assert!(status.contains("shark-exit=0"), "exit status: {status}");
    let flags: Vec<&str> = status.split_whitespace().collect();
    assert!(
        flags.contains(&"icanon") && flags.contains(&"echo"),
        "the terminal is back in cooked mode: {status}"
    );
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "top", "#{alternate_on}"])
            .trim(),
        "0",
        "the alternate screen was left"
    );
    let after = tmux.screen();
    assert!(
        !after.contains("caproto-shark --top"),
        "the view is gone from the screen:\n{after}"
    );
}

#[test]
fn a_capture_file_keeps_its_final_picture_until_q() {
    use shark_support::*;
    let Some(tmux_exe) = find("tmux") else {
        return;
    };
    let (c, s) = (addr("127.0.0.1:40001"), addr("127.0.0.1:5064"));
    let mut ips = vec![
        tcp(c, s, 99, SYN, &[]),
        tcp(s, c, 499, SYN | ACK, &[]),
        tcp(
            c,
            s,
            100,
            ACK,
            &[
                version(),
                create_req("file:busy", 1),
                create_req("file:calm", 2),
            ]
            .concat(),
        ),
        tcp(
            s,
            c,
            500,
            ACK,
            &[create_resp(1, 10), create_resp(2, 20)].concat(),
        ),
    ];
    // file:busy read 5 times, file:calm once.
    let (mut cseq, mut sseq) = (164u32, 532u32);
    for i in 0..5u32 {
        let mut req = read_req(10, i);
        let mut resp = read_resp(i, 1.0);
        if i == 0 {
            req.extend(read_req(20, 100));
            resp.extend(read_resp(100, 2.0));
        }
        ips.push(tcp(c, s, cseq, ACK, &req));
        ips.push(tcp(s, c, sseq, ACK, &resp));
        cseq += req.len() as u32;
        sseq += resp.len() as u32;
    }
    let pkts: Vec<Pkt> = ips
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Pkt::new(
                1_700_000_000_000_000 + i as u64 * 100_000,
                Link::Ethernet.frame(p),
            )
        })
        .collect();
    let dir = common::TempDir::new("shark-top-file");
    let file = dir.path().join("file.pcap");
    std::fs::write(&file, pcap(1, &pkts, false, false)).unwrap();
    let status_file = dir.path().join("exit");
    let tmux = Tmux {
        exe: tmux_exe,
        socket: format!("caproto-top-file-{}", std::process::id()),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "40",
        "-s",
        "file",
        "sh",
        "-c",
        &format!(
            "'{SHARK}' --top '{}'; echo \"shark-exit=$?\" >'{}'; exec sleep 600",
            file.display(),
            status_file.display()
        ),
    ]);
    let screen = tmux.wait_screen_of("file", "the final picture", |s| {
        s.contains("end of capture") && first_pv_row(s).is_some_and(|r| r.contains("file:busy"))
    });
    assert!(screen.contains("(average)"), "{screen}");
    // It stays until q.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(tmux.screen_of("file").contains("end of capture"));
    assert!(!status_file.exists(), "exited before q");
    tmux.run(&["send-keys", "-t", "file", "q"]);
    let deadline = Instant::now() + T;
    while !std::fs::read_to_string(&status_file)
        .unwrap_or_default()
        .contains("shark-exit=0")
    {
        assert!(
            Instant::now() < deadline,
            "caproto-shark did not exit 0 after q"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
