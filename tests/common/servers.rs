//! Starting peer servers on a test's ports and waiting until they answer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::env::CaEnv;
use super::peers;
use super::process::{ChildGuard, RunOutput};

/// How long a server gets to start answering before the test fails.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The shared softIoc database fixture (`tests/fixtures/ioc.db`, macro `P`).
pub fn ioc_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ioc.db")
}

/// Polls until `pv` answers a get on this env, or `timeout` passes.
///
/// Uses EPICS `caget -w 1` when EPICS is installed, else `caproto-get`. Each
/// attempt is itself bounded, so this never hangs. On failure, returns the
/// last attempt's output as the error.
pub fn wait_for_pv(env: &CaEnv, pv: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let last: RunOutput = loop {
        let cmd = if peers::has_epics() {
            env.epics("caget").map(|mut c| {
                c.args(["-w", "1", pv]);
                c
            })
        } else if peers::has_caproto() {
            env.caproto("caproto-get").map(|mut c| {
                c.args(["--no-repeater", "--timeout", "1", pv]);
                c
            })
        } else {
            None
        };
        let Some(mut cmd) = cmd else {
            return Err("no CA client peer installed to poll with".into());
        };
        let out = env.run(&mut cmd, Duration::from_secs(10));
        if out.success() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Err(format!(
        "{pv} did not answer within {timeout:?}\nlast attempt:\n{last}"
    ))
}

/// Waits for `pv`, panicking with the server's log if it never answers.
pub fn wait_for_server(env: &CaEnv, server: &mut ChildGuard, pv: &str) {
    server.assert_running();
    if let Err(e) = wait_for_pv(env, pv, STARTUP_TIMEOUT) {
        server.assert_running();
        panic!(
            "server {server:?} not answering: {e}\n--- server log ---\n{}",
            server.log_contents()
        );
    }
}

/// Starts EPICS `softIoc -m <macros> -d <db>` on this env. Its IOC shell
/// reads the stdin the guard holds open, so a test can change records from the
/// server side with `ioc.send_line("dbpf <pv> <value>")`. Does not wait: see
/// [`wait_for_server`].
pub fn start_softioc(env: &CaEnv, db: &Path, macros: &str) -> Option<ChildGuard> {
    let mut cmd: Command = env.epics("softIoc")?;
    if !macros.is_empty() {
        cmd.arg("-m").arg(macros);
    }
    cmd.arg("-d").arg(db).current_dir(env.dir());
    Some(env.spawn("softIoc", &mut cmd))
}

/// Starts softIoc with the shared fixture `tests/fixtures/ioc.db` under
/// `prefix` (e.g. `"t1:"`) and waits until `<prefix>ai` answers.
pub fn softioc_fixture(env: &CaEnv, prefix: &str) -> Option<ChildGuard> {
    let mut ioc = start_softioc(env, &ioc_db(), &format!("P={prefix}"))?;
    wait_for_server(env, &mut ioc, &format!("{prefix}ai"));
    Some(ioc)
}

/// Starts `python -m caproto.ioc_examples.<example> --prefix <prefix>
/// --interfaces 127.0.0.1` and waits until `<prefix><probe_pv>` answers.
pub fn caproto_example(
    env: &CaEnv,
    example: &str,
    prefix: &str,
    probe_pv: &str,
) -> Option<ChildGuard> {
    let mut cmd = env.caproto_module(&format!("caproto.ioc_examples.{example}"))?;
    cmd.args(["--prefix", prefix, "--interfaces", "127.0.0.1"]);
    let mut server = env.spawn(&format!("caproto-{example}"), &mut cmd);
    wait_for_server(env, &mut server, &format!("{prefix}{probe_pv}"));
    Some(server)
}

/// Path of our IOC runner.
pub const OUR_IOC: &str = env!("CARGO_BIN_EXE_caproto-ioc");

/// `caproto-ioc` with this env for a server ([`CaEnv::apply_server`]):
/// add arguments, then start it with [`spawn_our_ioc`].
pub fn our_ioc_command(env: &CaEnv) -> Command {
    let mut cmd = Command::new(OUR_IOC);
    env.apply_server(&mut cmd);
    cmd
}

/// Starts our IOC `cmd` (from [`our_ioc_command`]). If the env's server port
/// is not fixed yet, the IOC binds an ephemeral port and writes it to a
/// `--port-file`; this waits for that file (or the IOC's exit, which fails
/// the test with its log) and fixes the env's port to it, so clients made
/// from the env afterwards find the server. Nothing is probed and released:
/// no other socket can take the port between our choice and the bind.
/// Does not wait for PVs to answer: see [`wait_for_server`].
pub fn spawn_our_ioc(env: &CaEnv, name: &str, cmd: &mut Command) -> ChildGuard {
    let ephemeral = cmd
        .get_envs()
        .any(|(k, v)| k == "EPICS_CAS_SERVER_PORT" && v == Some("0".as_ref()));
    if !ephemeral {
        return env.spawn(name, cmd);
    }
    let file = env.dir().join(format!("{name}.port"));
    let _ = std::fs::remove_file(&file);
    cmd.arg("--port-file").arg(&file);
    let mut server = env.spawn(name, cmd);
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let port = loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            break text
                .trim()
                .parse::<u16>()
                .unwrap_or_else(|e| panic!("{name} wrote port {text:?}: {e}"));
        }
        server.assert_running();
        assert!(
            Instant::now() < deadline,
            "{name} reported no port within {STARTUP_TIMEOUT:?}\n{}",
            server.log_contents()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    env.set_server_port(port);
    server
}
