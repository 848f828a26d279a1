//! The tools' logic against a scripted stand-in client: which DBR type is
//! requested, what is printed in which order, and the exit status when PVs
//! are missing, reads time out or writes are refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caproto::cli::args::argv::normalize;
use caproto::cli::args::get::GetArgs;
use caproto::cli::args::monitor::MonitorArgs;
use caproto::cli::args::put::PutArgs;
use caproto::cli::output::format::Response;
use caproto::cli::tools::backend::{Backend, ToolChannel, ToolError, ToolSubscription};
use caproto::cli::tools::get::run_get;
use caproto::cli::tools::monitor::{run_monitor, run_monitor_threaded};
use caproto::cli::tools::put::run_put;
use caproto::client::Reading;
use caproto::proto::dbr::{DbrType, EpicsTime, Metadata, NativeType, Value};
use clap::Parser;

/// One fake PV: native type, current value, whether writes are allowed.
#[derive(Clone)]
struct Pv {
    value: Value,
    enum_strings: Vec<String>,
    writable: bool,
    hang_reads: bool,
    /// Subscriptions stay open (silent) after their scripted updates.
    linger: bool,
}

#[derive(Clone, Default)]
struct Fake {
    pvs: Arc<Mutex<HashMap<String, Pv>>>,
    /// Every (pv, dbr type) read, in order.
    reads: Arc<Mutex<Vec<(String, DbrType)>>>,
    writes: Arc<Mutex<Vec<(String, Value, bool)>>>,
}

#[derive(Clone)]
struct Chan(String, NativeType);

impl ToolChannel for Chan {
    fn name(&self) -> &str {
        &self.0
    }
    fn native_type(&self) -> NativeType {
        self.1
    }
}

/// Scripted updates; then the subscription ends (or with `linger`, stays
/// open without yielding), or (`silent`) never yields.
struct Sub(Vec<Response>, bool, bool);

impl ToolSubscription for Sub {
    async fn recv(&mut self) -> Option<Result<Response, ToolError>> {
        if self.1 {
            std::future::pending::<()>().await;
        }
        if self.0.is_empty() {
            if self.2 {
                std::future::pending::<()>().await;
            }
            return None;
        }
        Some(Ok(self.0.remove(0)))
    }
}

impl Fake {
    fn add(&self, name: &str, value: Value) {
        self.pvs.lock().unwrap().insert(
            name.into(),
            Pv {
                value,
                enum_strings: vec!["zero".into(), "one".into(), "two".into()],
                writable: true,
                hang_reads: false,
                linger: false,
            },
        );
    }

    fn reading(&self, pv: &Pv, t: DbrType) -> Response {
        let value = match (&pv.value, t.native()) {
            (Value::Enum(v), NativeType::String) => Value::String(
                v.iter()
                    .map(|&i| pv.enum_strings[usize::from(i)].clone())
                    .collect(),
            ),
            (v, _) => v.clone(),
        };
        let meta = Metadata {
            stamp: EpicsTime {
                secs: 1_164_435_094,
                nanos: 513_471_000,
            },
            ..Metadata::default()
        };
        Response::normal(Reading {
            dbr_type: t,
            value,
            meta,
        })
    }
}

impl Backend for Fake {
    type Channel = Chan;
    type Subscription = Sub;

    async fn connect(&self, names: &[String], _t: Duration) -> Vec<Result<Chan, ToolError>> {
        let pvs = self.pvs.lock().unwrap();
        names
            .iter()
            .map(|n| match pvs.get(n) {
                Some(pv) => Ok(Chan(n.clone(), pv.value.native_type())),
                None => Err(ToolError::NotFound { pv: n.clone() }),
            })
            .collect()
    }

    async fn get(
        &self,
        ch: &Chan,
        t: DbrType,
        _c: Option<u32>,
        _to: Duration,
    ) -> Result<Response, ToolError> {
        self.reads.lock().unwrap().push((ch.0.clone(), t));
        let pv = self.pvs.lock().unwrap().get(&ch.0).cloned().unwrap();
        if pv.hang_reads {
            return Err(ToolError::Timeout {
                pv: ch.0.clone(),
                awaiting: "reading",
            });
        }
        Ok(self.reading(&pv, t))
    }

    async fn put(
        &self,
        ch: &Chan,
        value: &Value,
        notify: bool,
        _to: Duration,
    ) -> Result<(), ToolError> {
        let mut pvs = self.pvs.lock().unwrap();
        let pv = pvs.get_mut(&ch.0).unwrap();
        if !pv.writable {
            return Err(ToolError::WriteRefused { pv: ch.0.clone() });
        }
        self.writes
            .lock()
            .unwrap()
            .push((ch.0.clone(), value.clone(), notify));
        pv.value = match (value, &pv.value) {
            (Value::String(s), Value::Enum(_)) => {
                Value::Enum(vec![
                    pv.enum_strings.iter().position(|e| *e == s[0]).unwrap() as u16,
                ])
            }
            (Value::Long(v), Value::Double(_)) => {
                Value::Double(v.iter().map(|&x| x.into()).collect())
            }
            (v, _) => v.clone(),
        };
        Ok(())
    }

    fn subscribe(&self, ch: &Chan, t: DbrType, _c: Option<u32>, _m: u16) -> Sub {
        let pv = self.pvs.lock().unwrap().get(&ch.0).cloned().unwrap();
        Sub(
            vec![self.reading(&pv, t), self.reading(&pv, t)],
            pv.hang_reads,
            pv.linger,
        )
    }
}

fn text(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap()
}

async fn get(fake: &Fake, args: &[&str]) -> (u8, String, String) {
    let args = GetArgs::try_parse_from(normalize(
        std::iter::once("caproto-get").chain(args.iter().copied()),
    ))
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_get(&args, fake, &mut out, &mut err).await;
    (code, text(out), text(err))
}

async fn put(fake: &Fake, args: &[&str]) -> (u8, String, String) {
    let args = PutArgs::try_parse_from(std::iter::once("caproto-put").chain(args.iter().copied()))
        .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_put(&args, fake, &mut out, &mut err).await;
    (code, text(out), text(err))
}

fn fixture() -> Fake {
    let f = Fake::default();
    f.add("t:ao", Value::Double(vec![1.5]));
    f.add("t:mbbo", Value::Enum(vec![2]));
    f.add("t:wf", Value::Double(vec![1.0, 2.5, 3.0]));
    f
}

#[tokio::test]
async fn get_prints_in_order_and_reports_missing_pvs() {
    let f = fixture();
    let (code, out, err) = get(&f, &["t:ao", "nope", "t:mbbo"]).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!("{:<40}  [1.5]\n{:<40}  [two]\n", "t:ao", "t:mbbo")
    );
    assert_eq!(
        err,
        "Timed out while awaiting a response from the search for 'nope'.\n"
    );
    let (code, out, err) = get(&f, &["-t", "t:wf", "t:ao"]).await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "[1 2.5 3]\n1.5\n", "")
    );
}

#[tokio::test]
async fn get_chooses_request_types_like_caproto() {
    let f = fixture();
    get(&f, &["t:mbbo"]).await;
    get(&f, &["-n", "t:mbbo"]).await;
    get(&f, &["-a", "t:mbbo"]).await;
    get(&f, &["-d", "ctrl", "t:ao"]).await;
    get(&f, &["-d", "DBR_STRING", "t:ao"]).await;
    let types: Vec<u16> = f
        .reads
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.code())
        .collect();
    // STRING for enums by default, ENUM with -n, TIME_ENUM with -a, CTRL_DOUBLE, STRING.
    assert_eq!(types, [0, 3, 17, 34, 0]);
}

#[tokio::test]
async fn get_timeouts_and_bad_formats() {
    let f = fixture();
    f.pvs.lock().unwrap().get_mut("t:ao").unwrap().hang_reads = true;
    let (code, out, err) = get(&f, &["t:ao", "t:wf"]).await;
    assert_eq!(code, 1);
    assert!(out.starts_with("t:wf"), "{out}");
    assert_eq!(err, "t:ao: timeout while awaiting reading.\n");
    let (code, _, err) = get(&f, &["--format", "{pv_name", "t:wf"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("unmatched"), "{err}");
    // {timestamp} on a plain read: reported, not a panic.
    let (code, out, err) = get(&f, &["--format", "{timestamp}", "t:wf"]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "t:wf: format field {timestamp} is not available here\n"
    );
    let (code, out, _) = get(&f, &["--list-types"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("20 TIME_DOUBLE"));
}

#[tokio::test]
async fn put_prints_old_and_new() {
    let f = fixture();
    let (code, out, err) = put(&f, &["t:ao", "2.5"]).await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        format!("Old : {:<40}  [1.5]\nNew : {:<40}  [2.5]\n", "t:ao", "t:ao")
    );
    let (code, out, _) = put(&f, &["-t", "t:mbbo", "one"]).await;
    assert_eq!((code, out.as_str()), (0, "b'two'\nb'one'\n"));
    let (_, out, _) = put(&f, &["-a", "-t", "t:wf", "1 2 3 4"]).await;
    assert_eq!(out, "[1.  2.5 3. ]\n[1. 2. 3. 4.]\n");
    let (_, _, _) = put(&f, &["-c", "t:ao", "7"]).await;
    let last = f.writes.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, ("t:ao".to_string(), Value::Long(vec![7]), true));
}

#[tokio::test]
async fn put_failures_exit_nonzero_with_a_message() {
    let f = fixture();
    f.pvs.lock().unwrap().get_mut("t:ao").unwrap().writable = false;
    let (code, out, err) = put(&f, &["t:ao", "5"]).await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "", "t:ao: write access denied\n")
    );
    let (code, _, err) = put(&f, &["t:wf", "abc"]).await;
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "t:wf: cannot write value: \"abc\" is not a number (the channel's type is DOUBLE)\n"
    );
    let (code, _, err) = put(&f, &["nope", "1"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("search for 'nope'"));
    let (code, _, err) = put(&f, &["--file", "t:ao", "/nonexistent/file"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/file"), "{err}");
}

#[tokio::test]
async fn monitor_stops_after_maximum_and_counts_callbacks() {
    let f = fixture();
    let args = MonitorArgs::try_parse_from([
        "caproto-monitor",
        "--strict",
        "--maximum",
        "3",
        "--format",
        "{pv_name} {callback_count} {response.data}",
        "t:ao",
        "t:mbbo",
        "nope",
    ])
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_monitor(&args, &f, &mut out, &mut err, std::future::pending()).await;
    assert_eq!(code, 1);
    let out = text(out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.contains(&format!(" {} [", i + 1)), "{line}");
    }
    assert!(out.contains("t:mbbo") && out.contains("[two]"), "{out}");
    assert!(text(err).contains("'nope'"));
    // Without --strict, a PV not found is reported on stdout, as camonitor
    // does, and the others are monitored; it never connected: status 1.
    let args =
        MonitorArgs::try_parse_from(["caproto-monitor", "-w", "0.05", "nope", "t:mbbo"]).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_monitor(&args, &f, &mut out, &mut err, std::future::pending()).await;
    let out = text(out);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{:<40}  *** Not connected (PV not found)\n",
            "nope"
        )),
        "{out}"
    );
    assert!(out.contains("[two]"), "{out}");
    assert!(text(err).is_empty());
    // Subscriptions ask for TIME types (TIME_STRING for enums).
    // (Ends when every subscription has ended.)
    let args = MonitorArgs::try_parse_from(["caproto-monitor", "t:mbbo"]).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        run_monitor(&args, &f, &mut out, &mut err, std::future::pending()).await,
        0
    );
    let out = text(out);
    assert_eq!(out.lines().count(), 2);
    assert!(
        out.starts_with(&format!("{:<40}  ", "t:mbbo")) && out.contains(".513471 [two]"),
        "{out}"
    );
}

#[tokio::test]
async fn monitor_stops_on_duration_or_stop_signal() {
    let f = fixture();
    f.pvs.lock().unwrap().get_mut("t:ao").unwrap().hang_reads = true;
    let args =
        MonitorArgs::try_parse_from(["caproto-monitor", "--duration", "0.01", "t:ao"]).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        run_monitor(&args, &f, &mut out, &mut err, std::future::pending()).await,
        0
    );
    assert!(out.is_empty());
    let args = MonitorArgs::try_parse_from(["caproto-monitor", "t:ao"]).unwrap();
    assert_eq!(
        run_monitor(&args, &f, &mut out, &mut err, async {}).await,
        0
    );
}

/// A writer the test can read back, or one that refuses every write (a
/// closed standard output).
#[derive(Clone, Default)]
struct SharedOut(Arc<Mutex<Vec<u8>>>, bool);

impl std::io::Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.1 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn monitor_output_thread_prints_the_same_lines() {
    let f = fixture();
    let args = MonitorArgs::try_parse_from(["caproto-monitor", "t:ao", "t:mbbo", "t:wf"]).unwrap();
    let (mut direct, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        run_monitor(&args, &f, &mut direct, &mut err, std::future::pending()).await,
        0
    );
    let shared = SharedOut::default();
    assert_eq!(
        run_monitor_threaded(&args, &f, shared.clone(), &mut err, std::future::pending()).await,
        0
    );
    let threaded = shared.0.lock().unwrap().clone();
    let mut a: Vec<String> = text(direct).lines().map(str::to_string).collect();
    let mut b: Vec<String> = text(threaded).lines().map(str::to_string).collect();
    assert_eq!(a.len(), 6, "{a:?}");
    assert!(a.iter().any(|l| l.ends_with(".513471 [1 2.5 3]")), "{a:?}");
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert!(err.is_empty(), "{}", text(err));
}

#[tokio::test]
async fn monitor_stops_when_output_is_closed() {
    let f = fixture();
    let args = MonitorArgs::try_parse_from(["caproto-monitor", "t:ao", "t:wf"]).unwrap();
    let closed = SharedOut(Arc::default(), true);
    let mut err = Vec::new();
    // The subscriptions never end (they linger after their updates), so
    // only the closed output can end the run.
    for pv in f.pvs.lock().unwrap().values_mut() {
        pv.linger = true;
    }
    let code = tokio::time::timeout(
        Duration::from_secs(10),
        run_monitor_threaded(&args, &f, closed, &mut err, std::future::pending()),
    )
    .await
    .expect("monitor returned after its output closed");
    assert_eq!(code, 0);
}

/// A writer stuck in its first write until released (at most a minute);
/// says so through `entered` when that write begins.
struct StuckOut {
    release: std::sync::mpsc::Receiver<()>,
    entered: Option<tokio::sync::oneshot::Sender<()>>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl std::io::Write for StuckOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
        }
        let _ = self.release.recv_timeout(Duration::from_secs(60));
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn ctrl_c_does_not_wait_for_stuck_output() {
    let f = fixture();
    for pv in f.pvs.lock().unwrap().values_mut() {
        pv.linger = true;
    }
    let args = MonitorArgs::try_parse_from(["caproto-monitor", "t:ao", "t:wf"]).unwrap();
    let (release, stuck) = std::sync::mpsc::channel();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (entered_tx, entered) = tokio::sync::oneshot::channel();
    let out = StuckOut {
        release: stuck,
        entered: Some(entered_tx),
        done: done.clone(),
    };
    let mut err = Vec::new();
    // "Ctrl-C" comes once the output thread is stuck writing the first batch.
    let ctrl_c = async move {
        entered
            .await
            .expect("the output thread began its first write");
    };
    let code = tokio::time::timeout(
        Duration::from_secs(30),
        run_monitor_threaded(&args, &f, out, &mut err, ctrl_c),
    )
    .await
    .expect("monitor returned after Ctrl-C although its output is stuck");
    assert_eq!(code, 0);
    assert!(
        !done.load(std::sync::atomic::Ordering::SeqCst),
        "returned only after the output thread got unstuck"
    );
    let _ = release.send(());
}
