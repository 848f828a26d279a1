//! What the three client tools' `main`s share: parse (after rewriting
//! caget's two-letter flags), start logging, start a repeater if needed,
//! run the tool on a current-thread runtime over a [`ClientBackend`], and
//! turn the result into an exit status. [`run_once`] is the whole `main` of
//! the tools that act once and exit (caproto-get, caproto-put).

use std::cell::Cell;
use std::ffi::OsString;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;

use crate::cli::args::names::{set_aside_names, PvNames};

use crate::cli::args::argv;
use crate::cli::args::common::ChannelArgs;
use crate::cli::args::LogArgs;
use crate::cli::tools::client_backend::{tool_config, ClientBackend, TOOL_SUB_QUEUE};
use crate::cli::tools::get::{EXIT_FAILED, EXIT_USAGE};
use crate::cli::tools::signals::termination_signal;
use crate::cli::tools::spawn_repeater::{ensure_repeater, RepeaterStart};
use crate::client::Context;

pub use crate::cli::tools::signals::{EXIT_INTERRUPTED, EXIT_TERMINATED};

/// Parse `args` as `A` after [`argv::normalize`]. On a usage error (or
/// `--help` / `--version`), clap's text is printed and the status returned.
pub fn parse<A: Parser>(args: impl IntoIterator<Item = OsString>) -> Result<A, ExitCode> {
    match A::try_parse_from(argv::normalize(args)) {
        Ok(a) => Ok(a),
        Err(e) => {
            let _ = e.print();
            Err(ExitCode::from(
                u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE),
            ))
        }
    }
}

/// [`parse`] for the tools that take many PV names: all but the first are
/// set aside before clap and appended after (see [`set_aside_names`]), so 100 000
/// names cost a copy each instead of clap's work on each.
pub fn parse_names<A: Parser + PvNames>(
    args: impl IntoIterator<Item = OsString>,
) -> Result<A, ExitCode> {
    let (kept, names) = set_aside_names(&mut A::command(), argv::normalize(args));
    match A::try_parse_from(kept) {
        Ok(mut a) => {
            a.pv_names_mut().extend(names);
            Ok(a)
        }
        Err(e) => {
            let _ = e.print();
            Err(ExitCode::from(
                u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE),
            ))
        }
    }
}

/// Run a client tool: logging from `log`, a repeater unless `--no-repeater`,
/// a client context configured from the environment and `channel`, then
/// `run` (given the backend and a future that resolves on Ctrl-C or SIGTERM),
/// and a clean close so queued writes go out. Returns `run`'s status, or,
/// after a signal (whether or not the tool watches for it), 130 for SIGINT
/// and 143 for SIGTERM, with every log record flushed.
pub fn run_tool<F, Fut>(
    tool: &str,
    log: &LogArgs,
    channel: &ChannelArgs,
    watches_ctrl_c: bool,
    run: F,
) -> ExitCode
where
    F: FnOnce(ClientBackend, std::pin::Pin<Box<dyn Future<Output = ()>>>) -> Fut,
    Fut: Future<Output = u8>,
{
    let _log = match log.init() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("{tool}: error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    if !channel.no_repeater {
        match ensure_repeater(env) {
            Ok(RepeaterStart::Started(pid)) => {
                tracing::debug!(target: "caproto::ctx", "started caproto-repeater (pid {pid})")
            }
            Ok(RepeaterStart::AlreadyRunning(addr)) => {
                tracing::trace!(target: "caproto::ctx", "a repeater already listens on {addr}")
            }
            Err(e) => tracing::info!(target: "caproto::ctx", "{e}"),
        }
    }
    let config = match tool_config(env, channel.priority, !channel.no_repeater) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{tool}: error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{tool}: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let status = runtime.block_on(async {
        let ctx = match Context::with_queue_capacity(config, TOOL_SUB_QUEUE) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{tool}: error: {e}");
                return EXIT_FAILED;
            }
        };
        let backend = ClientBackend::new(ctx);
        // The status a signal asks for (0: none arrived).
        let signalled = Rc::new(Cell::new(0u8));
        let seen = Rc::clone(&signalled);
        let stop: std::pin::Pin<Box<dyn Future<Output = ()>>> = Box::pin(async move {
            seen.set(termination_signal().await);
        });
        let status = if watches_ctrl_c {
            run(backend.clone(), stop).await
        } else {
            tokio::select! {
                status = run(backend.clone(), Box::pin(std::future::pending())) => status,
                _ = stop => 0,
            }
        };
        backend.close().await;
        match signalled.get() {
            0 => status,
            code => code,
        }
    });
    crate::log::flush();
    // The process exits next. Tasks still running (e.g. a circuit closing)
    // are not waited for, nor is their state freed piece by piece: the
    // context has flushed what matters, and exit closes the sockets.
    std::mem::forget(runtime);
    ExitCode::from(status)
}

/// The `main` of a tool that acts once and exits: `parse` `A` from the
/// process arguments ([`parse`] or [`parse_names`]), then [`run_tool`] `run` (e.g. `run_get`) with buffered stdout
/// and stderr, flushing stdout at the end. `parts` picks the logging and
/// channel options out of `A`. Ctrl-C ends it with [`EXIT_INTERRUPTED`], SIGTERM
/// with [`EXIT_TERMINATED`].
pub fn run_once<A>(
    tool: &str,
    parse: fn(std::env::ArgsOs) -> Result<A, ExitCode>,
    parts: fn(&A) -> (&LogArgs, &ChannelArgs),
    run: impl AsyncFnOnce(&A, &ClientBackend, &mut dyn Write, &mut dyn Write) -> u8,
) -> ExitCode {
    let args: A = match parse(std::env::args_os()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    // Not dropped: the process exits next (100 000 names are 100 000 frees).
    let args = std::mem::ManuallyDrop::new(args);
    let args: &A = &args;
    let (log, channel) = parts(args);
    run_tool(tool, log, channel, false, |backend, _| async move {
        let mut out = BufWriter::new(std::io::stdout().lock());
        // Unlocked: other threads (log shipping notices) may log to the terminal meanwhile.
        let mut err = std::io::stderr();
        let status = run(args, &backend, &mut out, &mut err).await;
        let _ = out.flush();
        status
    })
}
