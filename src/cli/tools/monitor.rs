//! What caproto-monitor does once its arguments are parsed.
//!
//! Updates are formatted into one reused buffer and handed on in batches:
//! whenever no further update is waiting (so a line appears as soon as it is
//! printed in a quiet moment), or when the batch reaches [`BATCH_BYTES`].
//! The binary writes the batches from a thread of its own
//! ([`run_monitor_threaded`]), so a slow reader of standard output never
//! stalls the client: sockets are still read while printing waits, and each
//! subscription's bounded queue drops its oldest updates if printing falls
//! behind for good (see [`crate::cli::tools::client_backend::TOOL_SUB_QUEUE`]).

use std::io::Write;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::args::monitor::MonitorArgs;
use crate::cli::output::camonitor::CamonitorLines;
use crate::cli::output::format::{Extras, LineBuffers, LineError, LineFormat, Response};
use crate::cli::output::timefmt::{Stamp, Zone};
use crate::cli::tools::backend::{
    default_read_type, Backend, FollowSpec, PvEvent, ToolChannel, ToolError, ToolSubscription,
};
use crate::cli::tools::get::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::proto::dbr::{DbrClass, DbrType};

/// A batch is handed on once it holds this many bytes, even if more updates wait.
pub const BATCH_BYTES: usize = 64 * 1024;

/// Updates handled before the stop signal and deadline are looked at again.
const UPDATES_PER_TURN: usize = 1024;

/// Batches in flight to the writer thread before formatting waits for it.
const BATCHES_IN_FLIGHT: usize = 4;

/// Capacity of the channel that merges the subscriptions' updates.
const MERGED_QUEUE: usize = 1024;

/// After Ctrl-C, how long pending lines may take to be written before the
/// tool exits anyway (a reader that stopped reading must not keep it alive).
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);

/// Where finished lines go.
trait Output {
    /// The batch being filled.
    fn batch(&mut self) -> &mut Vec<u8>;
    /// Hand the batch on (and empty it). An error means output is closed.
    async fn flush(&mut self) -> std::io::Result<()>;
    /// Resolves once output is known to be closed (never, if that is only
    /// learnt by writing).
    async fn closed(&self);
}

/// Lines written (and flushed) to a `Write` on the caller's thread.
struct DirectOutput<'a> {
    out: &'a mut dyn Write,
    batch: Vec<u8>,
}

impl Output for DirectOutput<'_> {
    fn batch(&mut self) -> &mut Vec<u8> {
        &mut self.batch
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() {
            self.out.write_all(&self.batch)?;
            self.batch.clear();
        }
        self.out.flush()
    }

    async fn closed(&self) {
        std::future::pending().await
    }
}

/// Lines handed to a writer thread; buffers come back for reuse.
struct ThreadedOutput {
    batch: Vec<u8>,
    to_writer: mpsc::Sender<Vec<u8>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Output for ThreadedOutput {
    fn batch(&mut self) -> &mut Vec<u8> {
        &mut self.batch
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        self.to_writer
            .send(full)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "output closed"))
    }

    async fn closed(&self) {
        self.to_writer.closed().await
    }
}

/// Subscribe to every PV and print a line per update until `stop` resolves
/// (Ctrl-C in the binary), `--duration` passes or `--maximum` lines were
/// printed. PVs that cannot be connected are reported on `err`; the exit
/// status is then 1 (after the others have been monitored). Lines are
/// written to `out` on this task (and flushed whenever no update waits).
pub async fn run_monitor<B: Backend>(
    args: &MonitorArgs,
    backend: &B,
    out: &mut dyn Write,
    err: &mut dyn Write,
    stop: impl std::future::Future<Output = ()>,
) -> u8 {
    let output = DirectOutput {
        out,
        batch: Vec::new(),
    };
    monitor(args, backend, output, err, stop).await.0
}

/// [`run_monitor`] with `out` written (and flushed after each batch) by a
/// thread of its own, so that a slow reader of the output cannot stall the
/// client. Returns once every line has been written (or `out` failed).
pub async fn run_monitor_threaded<B: Backend, W: Write + Send + 'static>(
    args: &MonitorArgs,
    backend: &B,
    mut out: W,
    err: &mut dyn Write,
    stop: impl std::future::Future<Output = ()>,
) -> u8 {
    let (to_writer, mut batches) = mpsc::channel::<Vec<u8>>(BATCHES_IN_FLIGHT);
    let (give_back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    let writer = std::thread::Builder::new()
        .name("monitor-output".into())
        .spawn(move || {
            while let Some(mut batch) = batches.blocking_recv() {
                if out.write_all(&batch).and_then(|()| out.flush()).is_err() {
                    break; // closed (e.g. piped into head): the sender sees it
                }
                batch.clear();
                let _ = give_back.send(batch);
            }
        });
    let writer = match writer {
        Ok(w) => w,
        Err(e) => {
            let _ = writeln!(
                err,
                "caproto-monitor: error: cannot start the output thread: {e}"
            );
            return EXIT_FAILED;
        }
    };
    let output = ThreadedOutput {
        batch: Vec::new(),
        to_writer,
        spare,
    };
    let (status, interrupted) = monitor(args, backend, output, err, stop).await;
    // `monitor` dropped the sender: the thread ends after the last batch.
    // After Ctrl-C it is not waited for if output is stuck.
    if interrupted {
        let give_up = tokio::time::Instant::now() + INTERRUPT_GRACE;
        while !writer.is_finished() && tokio::time::Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !writer.is_finished() {
            return status;
        }
    }
    let _ = writer.join();
    status
}

type Update = (usize, PvEvent);

/// The monitor itself; also says whether it ended because `stop` resolved.
async fn monitor<B: Backend, O: Output>(
    args: &MonitorArgs,
    backend: &B,
    mut output: O,
    err: &mut dyn Write,
    stop: impl std::future::Future<Output = ()>,
) -> (u8, bool) {
    let fmt = match LineFormat::monitor(args.format.clone(), args.values.data_format(), Zone::Local)
    {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "caproto-monitor: error: --format: {e}");
            return (EXIT_USAGE, false);
        }
    };
    let mut status = EXIT_OK;
    let (tx, mut rx) = mpsc::channel::<Update>(MERGED_QUEUE);
    // The tasks that hold channels and subscriptions: ended when the monitor
    // ends, so their channels are dropped (CLEAR_CHANNEL on the wire) before
    // the tool closes its context, whatever ended the run (a signal too).
    let mut holders: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    if args.strict {
        if !subscribe_once(args, backend, &tx, err, &mut holders).await {
            status = EXIT_FAILED;
        }
    } else {
        let spec = FollowSpec {
            enum_as_number: args.values.enum_as_number,
            count: args.values.count,
            mask: args.mask,
            first_wait: args.channel.timeout(),
        };
        let (backend, names, tx) = (backend.clone(), args.pv_names.clone(), tx.clone());
        holders.push(tokio::spawn(async move {
            backend.follow_many(names, spec, tx).await
        }));
    }
    drop(tx);
    // PVs reported not found and not connected since (for the exit status).
    let mut missing = vec![false; args.pv_names.len()];
    // PVs that connected at least once: when `--duration` ends before the
    // connection timeout, the others are reported as not found all the same.
    let mut connected = vec![false; args.pv_names.len()];
    let mut duration_over = false;
    let deadline = args.duration.map(Duration::from_secs_f64);
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    tokio::pin!(stop);
    let mut printer = Printer {
        fmt: &fmt,
        names: &args.pv_names,
        bufs: LineBuffers::default(),
        count: 0,
        previous: None,
    };
    // With -t: camonitor's layout instead of caproto-monitor's.
    let mut camonitor = args.timestamps.map(|mode| {
        CamonitorLines::new(
            mode,
            args.values.data_format(),
            args.pv_names.len(),
            Stamp::now(),
        )
    });
    let mut interrupted = false;
    // Hand the batch on unless `stop` resolves first (output may be stuck);
    // leaves the loop when output is closed or on Ctrl-C.
    macro_rules! flush_or_leave {
        ($outer:lifetime) => {
            tokio::select! {
                biased;
                _ = &mut stop => {
                    interrupted = true;
                    break $outer;
                }
                r = output.flush() => {
                    if r.is_err() {
                        break $outer;
                    }
                }
            }
        };
    }
    'outer: loop {
        let first = tokio::select! {
            biased;
            _ = &mut stop => {
                interrupted = true;
                break;
            }
            _ = &mut sleep => {
                duration_over = true;
                break;
            }
            _ = output.closed() => break,
            msg = rx.recv() => match msg {
                Some(m) => m,
                None => break,
            },
        };
        // Print what has arrived; hand the batch on when nothing more waits.
        let mut next = Some(first);
        let mut handled = 0;
        while let Some((i, event)) = next.take() {
            let pv = args.pv_names.get(i).map_or("", String::as_str);
            let reading = match event {
                PvEvent::Update(Ok(r)) => {
                    connected[i] = true;
                    r
                }
                PvEvent::Connected => {
                    missing[i] = false;
                    connected[i] = true;
                    next = rx.try_recv().ok();
                    continue;
                }
                PvEvent::Update(Err(e)) => {
                    // Keep stderr in order with the lines before it.
                    flush_or_leave!('outer);
                    let _ = writeln!(err, "{e}");
                    // A disconnect is weather; a refused or failed update
                    // (e.g. a reply larger than asked for) fails the run.
                    if !matches!(e, ToolError::Disconnected { .. }) {
                        status = EXIT_FAILED;
                    }
                    next = rx.try_recv().ok();
                    continue;
                }
                PvEvent::NotFound => {
                    missing[i] = true;
                    not_found_line(output.batch(), camonitor.as_ref(), args, pv);
                    next = rx.try_recv().ok();
                    continue;
                }
                PvEvent::Disconnected { count } => {
                    connected[i] = true;
                    let now = Stamp::now();
                    match &camonitor {
                        Some(c) => output
                            .batch()
                            .extend_from_slice(c.disconnected(pv, count, now).as_bytes()),
                        None => {
                            status_line(output.batch(), pv, padded(args), Some(now), "disconnected")
                        }
                    }
                    next = rx.try_recv().ok();
                    continue;
                }
            };
            if let Some(c) = camonitor.as_mut() {
                let line = c.update(i, pv, &reading, Stamp::now());
                output.batch().extend_from_slice(line.as_bytes());
                printer.count += 1;
            } else {
                match printer.print(i, &reading, output.batch()) {
                    Ok(()) => {}
                    Err(LineError::Io(_)) => break 'outer,
                    Err(LineError::Template(e)) => {
                        let pv = &args.pv_names[i];
                        flush_or_leave!('outer);
                        let _ = writeln!(err, "{pv}: {e}");
                        status = EXIT_FAILED;
                        break 'outer;
                    }
                }
            }
            if args.maximum.is_some_and(|m| printer.count >= m) {
                break 'outer;
            }
            if output.batch().len() >= BATCH_BYTES {
                flush_or_leave!('outer);
            }
            handled += 1;
            if handled < UPDATES_PER_TURN {
                next = rx.try_recv().ok();
            }
        }
        flush_or_leave!('outer);
    }
    if duration_over && !args.strict {
        for (i, pv) in args.pv_names.iter().enumerate() {
            if connected[i] || missing[i] {
                continue;
            }
            missing[i] = true;
            not_found_line(output.batch(), camonitor.as_ref(), args, pv);
        }
    }
    if interrupted {
        let _ = tokio::time::timeout(INTERRUPT_GRACE, output.flush()).await;
    } else {
        let _ = output.flush().await;
    }
    if missing.iter().any(|m| *m) {
        status = EXIT_FAILED;
    }
    for holder in &holders {
        holder.abort();
    }
    for holder in holders {
        let _ = holder.await;
    }
    (status, interrupted)
}

/// `--strict`: connect every PV within the timeout (reporting those that do
/// not on `err`) and subscribe once; a PV whose channel is lost is reported
/// and not followed again (the run ends when none is left). Returns whether
/// all connected.
async fn subscribe_once<B: Backend>(
    args: &MonitorArgs,
    backend: &B,
    tx: &mpsc::Sender<Update>,
    err: &mut dyn Write,
    holders: &mut Vec<tokio::task::JoinHandle<()>>,
) -> bool {
    let channels = backend
        .connect(&args.pv_names, args.channel.timeout())
        .await;
    let mut all = true;
    for (i, ch) in channels.into_iter().enumerate() {
        let ch = match ch {
            Ok(ch) => ch,
            Err(e) => {
                let _ = writeln!(err, "{e}");
                all = false;
                continue;
            }
        };
        let native = default_read_type(ch.native_type(), args.values.enum_as_number);
        let mut sub = backend.subscribe(
            &ch,
            DbrType::Value(DbrClass::Time, native),
            args.values.count,
            args.mask,
        );
        let tx = tx.clone();
        holders.push(tokio::spawn(async move {
            while let Some(update) = sub.recv().await {
                // A lost PV is not followed again: dropping the subscription
                // (and with it the channel) stops the client's reconnect.
                let lost = matches!(update, Err(ToolError::Disconnected { .. }));
                if tx.send((i, PvEvent::Update(update))).await.is_err() || lost {
                    break;
                }
            }
        }));
    }
    all
}

/// Whether a status line pads the name to 40 columns: as caproto-monitor's
/// own lines do, unless `-F` chose a separator (then its lines do not).
fn padded(args: &MonitorArgs) -> bool {
    args.values.separator.is_none()
}

/// The line for a PV whose search went unanswered, in the chosen layout.
fn not_found_line(
    batch: &mut Vec<u8>,
    camonitor: Option<&CamonitorLines>,
    args: &MonitorArgs,
    pv: &str,
) {
    match camonitor {
        Some(c) => batch.extend_from_slice(c.not_found(pv).as_bytes()),
        None => status_line(
            batch,
            pv,
            padded(args),
            None,
            "Not connected (PV not found)",
        ),
    }
}

/// A connection status line in camonitor's words: `NAME *** what`, or with
/// the client's clock `NAME TIME *** what`.
fn status_line(batch: &mut Vec<u8>, pv: &str, pad: bool, now: Option<Stamp>, what: &str) {
    let name = if pad {
        format!("{pv:<40}  ")
    } else {
        format!("{pv}  ")
    };
    batch.extend_from_slice(name.as_bytes());
    if let Some(now) = now {
        batch.extend_from_slice(
            now.strftime("%Y-%m-%d %H:%M:%S.%f", Zone::Local)
                .unwrap_or_default()
                .as_bytes(),
        );
        batch.push(b' ');
    }
    batch.extend_from_slice(format!("*** {what}\n").as_bytes());
}

/// Turns updates into caproto-monitor's lines.
struct Printer<'a> {
    fmt: &'a LineFormat,
    names: &'a [String],
    bufs: LineBuffers,
    /// Lines printed so far.
    count: u64,
    /// Timestamp of the previous update (of any PV).
    previous: Option<Stamp>,
}

impl Printer<'_> {
    /// Append the line for update `reading` of PV number `i` to `batch`.
    fn print(
        &mut self,
        i: usize,
        reading: &Response,
        batch: &mut Vec<u8>,
    ) -> Result<(), LineError> {
        let stamp = reading.timestamp().unwrap_or_else(Stamp::now);
        // caproto keeps one history for all PVs: the difference to the previous
        // update of any PV; for the first, how old the update is.
        let delta = match self.previous {
            Some(p) => stamp.micros - p.micros,
            None => Stamp::now().micros - stamp.micros,
        };
        self.previous = Some(stamp);
        let extras = Extras {
            callback_count: Some(self.count + 1),
            timedelta: Some(delta),
            ..Extras::default()
        };
        let pv = self.names.get(i).map_or("", String::as_str);
        let start = batch.len();
        let result = self
            .fmt
            .write_line(pv, reading, extras, &mut self.bufs, batch);
        if result.is_err() {
            batch.truncate(start);
        } else {
            self.count += 1;
        }
        result
    }
}
