//! Who our client says it is, checked by the EPICS server that receives it:
//! softIoc's `casr 2` lists each client's CLIENT_NAME and HOST_NAME. With
//! `USER` and `LOGNAME` unset, the user must be the account of the real user
//! id (as EPICS's osiGetUserName), and the host the kernel's host name (as
//! libca's gethostname), not `unknown`/`localhost`. Loopback only.

mod common;

use std::time::Duration;

use common::{softioc_fixture, CaEnv};

const MONITOR: &str = env!("CARGO_BIN_EXE_caproto-monitor");

/// The account name of this process's real uid, from /etc/passwd by hand.
fn account_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
    })
}

#[test]
fn without_user_or_logname_the_client_names_the_account_and_the_kernel_host_name() {
    let Some(user) =
        account_name().or_else(|| common::peers::skip("no /etc/passwd entry for this uid"))
    else {
        return;
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("kernel host name")
        .trim()
        .to_string();
    let env = CaEnv::new();
    let Some(mut ioc) = softioc_fixture(&env, "ident:") else {
        return;
    };
    let mut cmd = env.own(MONITOR);
    cmd.args(["--no-repeater", "-w", "5", "ident:ai"])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("HOSTNAME");
    let mut monitor = env.spawn("caproto-monitor", &mut cmd);

    let expected = format!("User '{user}'");
    let listed = monitor.wait_for(Duration::from_secs(20), |_| {
        ioc.send_line("casr 2").expect("softIoc shell");
        std::thread::sleep(Duration::from_millis(300));
        let log = ioc.log_contents();
        // Per TCP client: "TCP client at 127.0.0.1:port 'host':" then
        // "User 'name', V4.13, ...".
        let lines: Vec<&str> = log.lines().collect();
        let i = lines.iter().position(|l| l.contains("TCP client at"))?;
        let next = lines.get(i + 1).copied().unwrap_or_default();
        Some((lines[i].to_owned(), next.to_owned()))
    });
    let Some((client, next)) = listed else {
        panic!("softIoc never listed our client:\n{}", ioc.log_contents());
    };
    assert!(client.contains(&format!("'{host}'")), "{client}");
    assert!(next.contains(&expected), "{next}");
}
