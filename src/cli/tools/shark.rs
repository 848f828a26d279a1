//! What `caproto-shark` does once its arguments are parsed: route the records to standard
//! output through the `log` module, read the capture on a reader thread (so a pipe from
//! `tcpdump -U` is decoded as packets arrive, and Ctrl-C is noticed while a read blocks),
//! drive the sans-I/O [`Decoder`], report problems on standard error, and print the summary.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal as _, Read};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::level_filters::LevelFilter;

use super::signals::armed_termination_signal;
use crate::capture::{emit, Config, Counters, Decoder, Event, Problem, Summary, Timestamp};
use crate::cli::args::shark::SharkArgs;
use crate::log::{self, ColorMode, LogConfig, LogError, SharedWriter};
use crate::metrics::SharkMetrics;

/// Bytes read from the capture at a time.
const CHUNK: usize = 256 * 1024;

/// Problems of one kind printed before the rest are only counted.
const PROBLEMS_SHOWN_PER_KIND: u64 = 20;

/// The decoder settings from the arguments and the environment (`EPICS_CA_SERVER_PORT`,
/// `EPICS_CAS_SERVER_PORT`, `EPICS_CA_REPEATER_PORT`).
pub fn decoder_config(args: &SharkArgs, env: impl Fn(&str) -> Option<String>) -> Config {
    let port = |k: &str| env(k).and_then(|v| v.trim().parse::<u16>().ok());
    let mut server_ports = args.ports.clone();
    if server_ports.is_empty() {
        server_ports.extend(port("EPICS_CA_SERVER_PORT"));
        server_ports.extend(port("EPICS_CAS_SERVER_PORT"));
        if server_ports.is_empty() {
            server_ports.push(crate::proto::DEFAULT_SERVER_PORT);
        }
    }
    let mut repeater_ports = args.repeater_ports.clone();
    if repeater_ports.is_empty() {
        repeater_ports
            .push(port("EPICS_CA_REPEATER_PORT").unwrap_or(crate::proto::DEFAULT_REPEATER_PORT));
    }
    Config {
        server_ports,
        repeater_ports,
        max_message: args.max_message,
        max_flow_buffer: args.max_flow_buffer,
        ..Config::default()
    }
}

/// Prints problems on standard error, at most `PROBLEMS_SHOWN_PER_KIND` of each kind.
#[derive(Debug, Default)]
pub struct ProblemReport {
    shown: std::collections::HashMap<&'static str, u64>,
    hidden: u64,
}

impl ProblemReport {
    /// Reports one problem.
    pub fn report(&mut self, p: &Problem) {
        let n = self.shown.entry(p.kind()).or_default();
        *n += 1;
        if *n <= PROBLEMS_SHOWN_PER_KIND {
            eprintln!("caproto-shark: {p}");
            if *n == PROBLEMS_SHOWN_PER_KIND {
                eprintln!(
                    "caproto-shark: (further \"{}\" problems are only counted)",
                    p.kind()
                );
            }
        } else {
            self.hidden += 1;
        }
    }

    /// Problems counted but not printed.
    pub fn hidden(&self) -> u64 {
        self.hidden
    }
}

/// Decodes a whole capture from `input`, emitting every message's record and folding it into
/// `summary`; `stop` is polled between chunks (Ctrl-C). Chunks are read on a separate thread
/// and `after_chunk` runs after each (the binary flushes its output there, so records of a
/// live pipe appear as soon as their packets arrive).
// Each optional observer of the stream (summary, periodic summary, metrics)
// is an argument of its own: one more than clippy's default limit.
#[allow(clippy::too_many_arguments)]
pub fn decode_stream(
    input: Box<dyn Read + Send>,
    config: Config,
    mut summary: Option<&mut Summary>,
    mut periodic: Option<&mut Periodic>,
    metrics: Option<&SharkMetrics>,
    problems: &mut dyn FnMut(&Problem),
    stopped: &dyn Fn() -> bool,
    after_chunk: &mut dyn FnMut(),
) -> io::Result<Counters> {
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            let mut buf = vec![0u8; CHUNK];
            match input.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    let mut decoder = Decoder::new(config);
    let mut on_event = |e: Event<'_>| match e {
        Event::Message(m) => {
            if let Some(p) = periodic.as_deref_mut() {
                p.tick(m.time);
                p.summary.handle_message(&m);
            }
            emit::emit(&m);
            if let Some(s) = summary.as_deref_mut() {
                s.handle_message(&m);
            }
            if let Some(x) = metrics {
                x.handle_message(&m);
            }
        }
        Event::Problem(p) => {
            if let Some(s) = summary.as_deref_mut() {
                s.handle_problem(&p);
            }
            if let Some(s) = periodic.as_deref_mut() {
                s.summary.handle_problem(&p);
            }
            if let Some(x) = metrics {
                x.handle_problem(&p);
            }
            problems(&p);
        }
    };
    loop {
        if stopped() {
            return Ok(decoder.counters());
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(chunk)) => {
                decoder.handle_bytes(&chunk, &mut on_event);
                after_chunk();
                if decoder.is_invalid() {
                    break;
                }
            }
            Ok(Err(e)) => return Err(e),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    decoder.handle_eof(&mut on_event);
    after_chunk();
    Ok(decoder.counters())
}

/// `--summary-every`: a summary of each period of capture time, emitted as a record when a
/// message of the next period arrives (and at the end of the input).
#[derive(Debug)]
pub struct Periodic {
    every: Duration,
    /// Capture time (ns) the current period ends at; set by the first message.
    due: Option<u64>,
    /// Capture time of the last message.
    last: Timestamp,
    summary: Summary,
}

impl Periodic {
    /// Summaries every `every` of capture time.
    pub fn new(every: Duration) -> Self {
        Periodic {
            every,
            due: None,
            last: Timestamp::default(),
            summary: Summary::new(),
        }
    }

    /// Before a message at `now`: emits the periods that ended, then starts a fresh one.
    fn tick(&mut self, now: Timestamp) {
        let every = u64::try_from(self.every.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        self.last = now;
        let t = now.as_nanos();
        let due = *self.due.get_or_insert_with(|| t.saturating_add(every));
        if t < due {
            return;
        }
        self.emit(due);
        // Quiet periods are skipped, not reported empty.
        let behind = (t - due) / every + 1;
        self.due = Some(due.saturating_add(behind.saturating_mul(every)));
    }

    fn emit(&mut self, end_ns: u64) {
        let end = Timestamp {
            secs: (end_ns / 1_000_000_000) as i64,
            nanos: (end_ns % 1_000_000_000) as u32,
        };
        self.summary.emit_record(end, self.every.as_secs_f64());
        self.summary = Summary::new();
    }

    /// End of input (or Ctrl-C): the last (partial) period, if anything happened in it.
    pub fn finish(&mut self) {
        if !self.summary.is_empty() {
            self.emit(self.last.as_nanos());
        }
    }
}

/// Buffered standard output shared with the log handler.
fn stdout_writer() -> SharedWriter {
    Arc::new(Mutex::new(BufWriter::with_capacity(
        64 * 1024,
        io::stdout(),
    )))
}

/// Sets up the record handler (standard output) and the `--log-file` handler.
fn init_logging(args: &SharkArgs, out: SharedWriter) -> Result<(), LogError> {
    let l = &args.log;
    // Records are what this tool prints: DEBUG unless -q asks for less.
    let level = if l.quiet > 0 {
        l.terminal_level()
    } else {
        l.terminal_level().max(LevelFilter::DEBUG)
    };
    let color = if !l.no_color
        && io::stdout().is_terminal()
        && anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never
    {
        ColorMode::Always
    } else {
        ColorMode::Never
    };
    let mut cfg = LogConfig::writer(out)
        .level(level)
        .format(l.log_format)
        .color(color);
    for f in l.filters()? {
        cfg = cfg.filter(f);
    }
    let file = l.file_config()?;
    log::config_logging(cfg)?;
    if let Some(file) = file {
        log::add_handler(file)?;
    }
    Ok(())
}

/// Ctrl-C / SIGTERM, watched on a thread of its own so that a read blocked on a pipe does not
/// hide it: the flag holds the signal's exit code (130, 143) once one arrives, 0 before.
pub(super) fn watch_termination() -> Arc<AtomicU8> {
    let signal = Arc::new(AtomicU8::new(0));
    let flag = Arc::clone(&signal);
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return signal;
    };
    // The handlers are installed here, before any input is read: a Ctrl-C
    // that comes before the watcher thread runs still ends the loop.
    let watch = {
        let _context = rt.enter();
        armed_termination_signal()
    };
    std::thread::spawn(move || {
        let code = rt.block_on(watch);
        flag.store(code, Ordering::SeqCst);
    });
    signal
}

/// The capture to read: `file`, or standard input for none or `-`. A file that cannot be
/// opened is reported on standard error and gives `None`.
pub(super) fn open_input(file: Option<&Path>) -> Option<Box<dyn Read + Send>> {
    match file {
        None => Some(Box::new(io::stdin())),
        Some(p) if p == Path::new("-") => Some(Box::new(io::stdin())),
        Some(p) => match File::open(p) {
            Ok(f) => Some(Box::new(f)),
            Err(e) => {
                eprintln!("caproto-shark: error: cannot open {}: {e}", p.display());
                None
            }
        },
    }
}

/// The whole of `caproto-shark`'s `main`.
pub fn run_shark(args: &SharkArgs) -> ExitCode {
    if args.top {
        return super::shark_top::run_top(args);
    }
    let out = stdout_writer();
    if let Err(e) = init_logging(args, Arc::clone(&out)) {
        eprintln!("caproto-shark: error: {e}");
        return ExitCode::from(2);
    }
    let Some(input) = open_input(args.file.as_deref()) else {
        return ExitCode::FAILURE;
    };
    // Ctrl-C / SIGTERM: noticed between chunks, even while a read blocks.
    let signal = watch_termination();
    let metrics = match super::shark_metrics::start(args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("caproto-shark: error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = decoder_config(args, |k| std::env::var(k).ok());
    let mut summary = args.summary.then(Summary::new);
    let mut periodic = args.summary_every.map(Periodic::new);
    let mut report = ProblemReport::default();
    let result = decode_stream(
        input,
        config,
        summary.as_mut(),
        periodic.as_mut(),
        metrics.as_deref(),
        &mut |p| report.report(p),
        &|| signal.load(Ordering::SeqCst) != 0,
        &mut log::flush,
    );
    if let Some(p) = periodic.as_mut() {
        p.finish();
    }
    log::flush();
    let status = match &result {
        Ok(c) if c.packets == 0 && c.problems > 0 => 1,
        Ok(_) => 0,
        Err(e) => {
            eprintln!("caproto-shark: error: reading the capture failed: {e}");
            1
        }
    };
    if report.hidden() > 0 {
        eprintln!(
            "caproto-shark: {} more problems not shown individually",
            report.hidden()
        );
    }
    if let Some(s) = &summary {
        if let Ok(mut w) = out.lock() {
            let _ = w.write_all(s.render().as_bytes());
            let _ = w.flush();
        }
    }
    if let Some(m) = &metrics {
        super::shark_metrics::serve_until_signal(m, &signal);
    }
    match signal.load(Ordering::SeqCst) {
        0 => ExitCode::from(status),
        code => ExitCode::from(code),
    }
}
