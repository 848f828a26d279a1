//! What caproto-monitor does once its arguments are parsed.

use std::io::Write;
use std::time::Duration;

use tokio::sync::mpsc;

use super::backend::{default_read_type, Backend, ToolChannel, ToolSubscription};
use super::format::{Extras, LineFormat, Reading};
use super::monitor_args::MonitorArgs;
use super::run_get::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use super::timefmt::{Stamp, Zone};
use crate::proto::dbr::{DbrClass, DbrType};

/// Subscribe to every PV and print a line per update until `stop` resolves
/// (Ctrl-C in the binary), `--duration` passes or `--maximum` lines were
/// printed. PVs that cannot be connected are reported on `err`; the exit
/// status is then 1 (after the others have been monitored).
pub async fn run_monitor<B: Backend>(
    args: &MonitorArgs,
    backend: &B,
    out: &mut dyn Write,
    err: &mut dyn Write,
    stop: impl std::future::Future<Output = ()>,
) -> u8 {
    let fmt = match LineFormat::monitor(args.format.clone(), args.values.data_format(), Zone::Local)
    {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "caproto-monitor: error: --format: {e}");
            return EXIT_USAGE;
        }
    };
    let mut status = EXIT_OK;
    let channels = backend
        .connect(&args.pv_names, args.channel.timeout())
        .await;
    let (tx, mut rx) = mpsc::channel::<(usize, Result<Reading, super::backend::ToolError>)>(1024);
    let mut live = 0;
    for (i, ch) in channels.into_iter().enumerate() {
        let ch = match ch {
            Ok(ch) => ch,
            Err(e) => {
                let _ = writeln!(err, "{e}");
                status = EXIT_FAILED;
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
        live += 1;
        tokio::spawn(async move {
            while let Some(update) = sub.recv().await {
                if tx.send((i, update)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    if live == 0 {
        return status;
    }
    let deadline = args.duration.map(Duration::from_secs_f64);
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    tokio::pin!(stop);
    let mut count: u64 = 0;
    let mut previous: Option<Stamp> = None;
    loop {
        let (i, update) = tokio::select! {
            _ = &mut sleep => break,
            _ = &mut stop => break,
            msg = rx.recv() => match msg {
                Some(m) => m,
                None => break,
            },
        };
        let pv = &args.pv_names[i];
        let reading = match update {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(err, "{e}");
                continue;
            }
        };
        count += 1;
        let stamp = reading.timestamp().unwrap_or_else(Stamp::now);
        // caproto keeps one history for all PVs: the difference to the previous
        // update of any PV; for the first, how old the update is.
        let delta = match previous {
            Some(p) => stamp.micros - p.micros,
            None => Stamp::now().micros - stamp.micros,
        };
        previous = Some(stamp);
        let extras = Extras {
            callback_count: Some(count),
            timedelta: Some(delta),
            ..Extras::default()
        };
        match fmt.line(pv, &reading, extras) {
            Ok(line) => {
                if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                    break; // stdout closed
                }
            }
            Err(e) => {
                let _ = writeln!(err, "{pv}: {e}");
                status = EXIT_FAILED;
                break;
            }
        }
        if args.maximum.is_some_and(|m| count >= m) {
            break;
        }
    }
    status
}
