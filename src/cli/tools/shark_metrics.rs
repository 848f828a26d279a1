//! `caproto-shark --metrics ADDR`: the endpoint runs on a thread of its own
//! (a single-threaded tokio runtime), beside the synchronous decode loop that
//! feeds the [`SharkMetrics`]; after the input ends it keeps answering until
//! Ctrl-C or SIGTERM, so the totals of a finished capture can be scraped.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::cli::args::shark::SharkArgs;
use crate::metrics::{self, MetricsRegistry, ProcessCollector, SharkMetrics};

/// Start the endpoint if `--metrics` asks for one; `Err` when it cannot listen.
pub(super) fn start(args: &SharkArgs) -> Result<Option<Arc<SharkMetrics>>, String> {
    let Some(addr) = args.metrics else {
        return Ok(None);
    };
    let shark = Arc::new(SharkMetrics::new(args.metrics_top, &args.metrics_pv));
    let mut registry = MetricsRegistry::new();
    registry.add(Arc::clone(&shark));
    registry.add(ProcessCollector);
    let registry = Arc::new(registry);
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("cannot start the metrics runtime: {e}")));
                return;
            }
        };
        runtime.block_on(async move {
            match metrics::bind(addr).await {
                Ok(listener) => {
                    let at = listener.local_addr().map_or(addr, |a| a);
                    let _ = ready_tx.send(Ok(at));
                    metrics::serve(listener, registry).await;
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                }
            }
        });
    });
    match ready_rx.recv() {
        Ok(Ok(at)) => {
            eprintln!("caproto-shark: metrics on http://{at}/metrics");
            Ok(Some(shark))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the metrics thread ended at start".into()),
    }
}

/// The input ended: say so in the metrics, then keep serving until a
/// termination signal is recorded in `signal`.
pub(super) fn serve_until_signal(shark: &SharkMetrics, signal: &AtomicU8) {
    shark.finish();
    eprintln!("caproto-shark: input ended; serving metrics until Ctrl-C or SIGTERM");
    while signal.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(100));
    }
}
