//! Circuits on the server's own threads (`ServerConfig::circuit_threads`):
//! several clients are served at once across the threads, the threads ask
//! for the real-time priority configured (and get it exactly when this
//! process may use one), the search responder gets a thread of its own
//! 8 levels below them (as rsrv's CAS-UDP), and all end with the server;
//! `caproto-ioc` without the permission keeps normal priority and serves
//! as before. Loopback only.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::inproc::{client_config, server_config};
use common::CaEnv;

use caproto::client::Context;
use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrType, Value};
use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};

/// The circuit threads are named `caproto-circ-N` (15 characters at most
/// show in `/proc`).
const THREAD_NAME: &str = "caproto-circ-";
/// The search responder's thread (with circuit threads only).
const SEARCH_THREAD: &str = "caproto-search";
const WAIT: Duration = Duration::from_secs(10);

const IOC_EXE: &str = env!("CARGO_BIN_EXE_caproto-ioc");
const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;

/// (name, scheduling policy) of every thread of this process.
fn threads() -> Vec<(String, u32)> {
    threads_of("self")
}

/// (name, scheduling policy) of every thread of process `pid`.
fn threads_of(pid: &str) -> Vec<(String, u32)> {
    sched_of(pid)
        .into_iter()
        .map(|(name, policy, _)| (name, policy))
        .collect()
}

/// (name, scheduling policy, real-time priority) of every thread of process `pid`.
fn sched_of(pid: &str) -> Vec<(String, u32, u32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in dir.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        // Fields after the parenthesised name start at field 3 (state);
        // the real-time priority is field 40, the policy field 41.
        let field = |n: usize| {
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(n - 3))
                .and_then(|p| p.parse().ok())
                .unwrap_or(u32::MAX)
        };
        out.push((name.trim().to_string(), field(41), field(40)));
    }
    out
}

fn circuit_threads() -> Vec<u32> {
    threads()
        .into_iter()
        .filter(|(name, _)| name.starts_with(THREAD_NAME))
        .map(|(_, policy)| policy)
        .collect()
}

/// (policy, real-time priority) of this process's search responder threads.
fn search_threads() -> Vec<(u32, u32)> {
    sched_of("self")
        .into_iter()
        .filter(|(name, _, _)| name == SEARCH_THREAD)
        .map(|(_, policy, priority)| (policy, priority))
        .collect()
}

/// Whether this process may put a thread under SCHED_FIFO: tried on a
/// throwaway thread, as the server's threads try.
fn may_use_fifo() -> bool {
    std::thread::spawn(|| {
        let param = libc::sched_param { sched_priority: 20 };
        // SAFETY: the calling thread's own handle and a live parameter.
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0 }
    })
    .join()
    .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_served_on_circuit_threads_that_end_with_the_server() {
    let before = circuit_threads().len();
    let searches_before = search_threads().len();
    let mut group = PvGroup::new("ct:");
    let x = group.add(Pv::new("x", 0.0f64));
    let mut db = PvDatabase::new();
    db.add_group(group).unwrap();
    let config = ServerConfig {
        circuit_threads: 2,
        circuit_rt_priority: Some(20),
        ..server_config()
    };
    let server = Server::bind(db, config).await.unwrap();
    let port = server.tcp_port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));

    // Four clients, four circuits: each writes, reads back and sees a post.
    let mut clients = Vec::new();
    for n in 0..4 {
        let ctx = Context::new(client_config(port)).unwrap();
        let ch = ctx.connect_one("ct:x", WAIT).await.unwrap();
        let mut sub = ch.subscribe(DbrType::DOUBLE, None, mask::VALUE);
        let first = tokio::time::timeout(WAIT, sub.recv()).await.unwrap();
        assert!(first.is_some(), "client {n}: initial update");
        ch.put(&Value::Double(vec![f64::from(n)]), true)
            .await
            .unwrap();
        let got = ch.get(DbrType::DOUBLE, None).await.unwrap();
        assert_eq!(got.value, Value::Double(vec![f64::from(n)]), "client {n}");
        clients.push((ctx, ch, sub));
    }
    x.post(42.0).unwrap();
    for (n, (_, _, sub)) in clients.iter_mut().enumerate() {
        let deadline = Instant::now() + WAIT;
        loop {
            let update = tokio::time::timeout_at(deadline.into(), sub.recv())
                .await
                .unwrap_or_else(|_| panic!("client {n}: no update of 42"))
                .expect("subscription open");
            if update.map(|r| r.value) == Ok(Value::Double(vec![42.0])) {
                break;
            }
        }
    }

    let policies = circuit_threads();
    assert_eq!(
        policies.len(),
        before + 2,
        "two circuit threads: {:?}",
        threads()
    );
    // CI runs as root, so there the threads must be real-time: a machine
    // that cannot grant SCHED_FIFO may not quietly check SCHED_OTHER instead.
    let fifo = may_use_fifo();
    assert!(
        fifo || !common::peers::under_ci(),
        "SCHED_FIFO refused under CI, which runs as root"
    );
    let expected = if fifo { SCHED_FIFO } else { SCHED_OTHER };
    assert!(
        policies.iter().all(|&p| p == expected),
        "circuit threads' policies {policies:?}, expected {expected} (FIFO allowed: {fifo})"
    );
    let priorities: Vec<u32> = sched_of("self")
        .into_iter()
        .filter(|(name, _, _)| name.starts_with(THREAD_NAME))
        .map(|(_, _, priority)| priority)
        .collect();
    let expected_priority = if fifo { 20 } else { 0 };
    assert!(
        priorities.iter().all(|&p| p == expected_priority),
        "circuit threads' real-time priorities {priorities:?}, expected {expected_priority}"
    );
    // The clients found the PV through the search responder's own thread,
    // real-time 8 levels below the circuits when they are.
    let searches = search_threads();
    assert_eq!(searches.len(), searches_before + 1, "{:?}", threads());
    let expected_search = if fifo {
        (SCHED_FIFO, 12)
    } else {
        (SCHED_OTHER, 0)
    };
    assert!(
        searches.contains(&expected_search),
        "search thread {searches:?}, expected {expected_search:?}"
    );

    // Stopping the server ends its circuits and then its threads.
    let _ = stop.send(());
    tokio::time::timeout(WAIT, running)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while circuit_threads().len() > before || search_threads().len() > searches_before {
        assert!(
            Instant::now() < deadline,
            "server threads left: {:?}",
            threads()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (ctx, _, _) in clients {
        ctx.close().await;
    }
}

/// `caproto-ioc` asks for SCHED_FIFO 20 by default; started without
/// CAP_SYS_NICE (util-linux `setpriv` drops it from the bounding set, so
/// not even root keeps it), its circuit threads stay at normal priority, say
/// so at `-vv`, and serve.
#[test]
fn without_the_permission_the_ioc_keeps_normal_priority_and_serves() {
    let has_setpriv = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_setpriv {
        assert!(
            std::env::var_os("CI").is_none(),
            "setpriv (util-linux) is missing under CI"
        );
        eprintln!("SKIPPED: setpriv (util-linux) not installed");
        return;
    }
    let env = CaEnv::new();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--bounding-set",
        "-sys_nice",
        IOC_EXE,
        "simple",
        "--prefix",
        "np:",
        "-vv",
    ]);
    env.apply(&mut cmd);
    let mut ioc = env.spawn("caproto-ioc", &mut cmd);
    common::wait_for_server(&env, &mut ioc, "np:A");
    let out = env.run(env.own(GET_EXE).arg("np:A"), Duration::from_secs(20));
    let out = out.expect_success("caproto-get np:A");
    assert!(out.starts_with("np:A"), "{out}");
    let policies: Vec<u32> = threads_of(&ioc.pid().to_string())
        .into_iter()
        .filter(|(name, _)| name.starts_with(THREAD_NAME))
        .map(|(_, policy)| policy)
        .collect();
    assert!(!policies.is_empty(), "no circuit threads in {}", ioc.pid());
    assert!(
        policies.iter().all(|&p| p == SCHED_OTHER),
        "policies {policies:?} without CAP_SYS_NICE"
    );
    let search: Vec<(String, u32, u32)> = sched_of(&ioc.pid().to_string())
        .into_iter()
        .filter(|(name, _, _)| name == SEARCH_THREAD)
        .collect();
    assert!(
        search.len() == 1 && search[0].1 == SCHED_OTHER,
        "search thread {search:?} without CAP_SYS_NICE"
    );
    let log = ioc.log_contents();
    assert!(
        log.contains("stays at normal priority (SCHED_FIFO 20: Operation not permitted"),
        "{log}"
    );
    assert!(
        log.contains(
            "search responder stays at normal priority (SCHED_FIFO 12: Operation not permitted"
        ),
        "{log}"
    );
}

/// The accepted client connections of process `pid` on `port`, per epoll instance (one per
/// runtime: each circuit thread has its own), as sorted counts. From /proc: an epoll fd's
/// fdinfo lists the fds it watches (`tfd:`), and /proc/net/tcp the established sockets whose
/// local port is the server's.
fn circuits_per_runtime(pid: u32, port: u16) -> Vec<usize> {
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    let inodes: std::collections::HashSet<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            (local_port == port && f.get(3) == Some(&"01"))
                .then(|| f.get(9).map(|s| s.to_string()))?
        })
        .collect();
    let mut conn_fds = std::collections::HashSet::new();
    let mut epolls = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let fd = entry.file_name().to_string_lossy().into_owned();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        {
            if inodes.contains(inode) {
                conn_fds.insert(fd);
            }
        } else if target == "anon_inode:[eventpoll]" {
            epolls.push(fd);
        }
    }
    // The connections each epoll instance watches; an instance can show under more than
    // one fd, so identical sets count once (one connection is on one runtime only).
    let sets: std::collections::BTreeSet<Vec<String>> = epolls
        .iter()
        .map(|e| {
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{e}")).unwrap_or_default();
            let mut fds: Vec<String> = info
                .lines()
                .filter_map(|l| l.strip_prefix("tfd:"))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|fd| conn_fds.contains(*fd))
                .map(str::to_owned)
                .collect();
            fds.sort();
            fds
        })
        .filter(|fds| !fds.is_empty())
        .collect();
    let mut counts: Vec<usize> = sets.iter().map(Vec::len).collect();
    counts.sort_unstable();
    counts
}

/// `caproto-ioc --circuit-threads 3 --rt-priority 0`: three circuit threads at normal priority,
/// and six clients spread two per thread (each new circuit goes to the thread with the fewest);
/// `--circuit-threads 0`: no circuit threads, and it serves.
#[test]
fn circuit_threads_n_and_0_rt_priority_0_and_the_least_loaded_thread() {
    let env = CaEnv::new();
    let mut cmd = env.own(IOC_EXE);
    cmd.args([
        "simple",
        "--prefix",
        "cn:",
        "--circuit-threads",
        "3",
        "--rt-priority",
        "0",
    ]);
    let mut ioc = env.spawn("caproto-ioc", &mut cmd);
    common::wait_for_server(&env, &mut ioc, "cn:A");
    let threads: Vec<(String, u32, u32)> = sched_of(&ioc.pid().to_string())
        .into_iter()
        .filter(|(name, _, _)| name.starts_with(THREAD_NAME))
        .collect();
    assert_eq!(threads.len(), 3, "{threads:?}");
    assert!(
        threads
            .iter()
            .all(|(_, policy, prio)| (*policy, *prio) == (SCHED_OTHER, 0)),
        "{threads:?}"
    );
    // Six clients, one circuit each, all connected at once.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clients = rt.block_on(async {
        let mut clients = Vec::new();
        for n in 0..6 {
            let ctx = Context::new(client_config(env.server_port())).unwrap();
            let ch = ctx
                .connect_one("cn:A", WAIT)
                .await
                .unwrap_or_else(|e| panic!("client {n}: {e}"));
            clients.push((ctx, ch));
        }
        clients
    });
    let deadline = Instant::now() + WAIT;
    loop {
        let counts = circuits_per_runtime(ioc.pid(), env.server_port());
        if counts == [2, 2, 2] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "circuits per runtime {counts:?}, expected [2, 2, 2]"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    rt.block_on(async {
        for (ctx, _) in clients {
            ctx.close().await;
        }
    });
    drop(ioc);

    let mut cmd = env.own(IOC_EXE);
    cmd.args(["simple", "--prefix", "c0:", "--circuit-threads", "0"]);
    let mut ioc = env.spawn("caproto-ioc", &mut cmd);
    common::wait_for_server(&env, &mut ioc, "c0:A");
    let names: Vec<String> = threads_of(&ioc.pid().to_string())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(THREAD_NAME) || n == SEARCH_THREAD),
        "{names:?}"
    );
    let out = env.run(env.own(GET_EXE).arg("c0:A"), Duration::from_secs(20));
    assert!(out.expect_success("caproto-get c0:A").starts_with("c0:A"));
}
