//! The process-wide subscriber: a fixed set of handler slots created once, reconfigured through
//! a reload handle (adding a filtered layer after installation is impossible, LOGGING-NOTES
//! pitfall 3). The reload wraps the filtered layers themselves, so `event_enabled` reaches our
//! filters (pitfall 1). One reload around the `Vec` of slots, rather than one per slot, keeps the
//! hot path at one uncontended read lock per tracing call instead of one per slot.

use crate::sync::lock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::{reload, Registry};

use super::handler_filter::{HandlerFilter, Probe};
use super::layer::{HandlerLayer, Output, Render};
use super::ship::{ShipProtocol, ShipStats, ShipTarget};
use super::sink::{Destination, Sink};
use super::syslog::Origin;
use super::time::DateFormat;
use super::{ColorMode, Handler, LogConfig, LogError, MAX_FILTERS, MAX_HANDLERS};

type SlotLayer = Filtered<HandlerLayer, HandlerFilter, Registry>;
type SlotsHandle = reload::Handle<Vec<SlotLayer>, Registry>;

/// Book-keeping of the slots, guarded by one mutex (configuration only, never the hot path).
struct Slots {
    /// Bumped whenever a slot is (re)configured or freed, so stale [`Handler`]s are detected.
    generation: [u64; MAX_HANDLERS],
    output: [Option<Arc<Output>>; MAX_HANDLERS],
    /// The slot of the handler from the latest `config_logging`.
    global: Option<usize>,
}

struct Global {
    handle: SlotsHandle,
    slots: Mutex<Slots>,
}

static GLOBAL: OnceLock<Global> = OnceLock::new();
/// Whether an active handler has field filters (kept in step with every change of filters).
static FIELD_FILTERS: AtomicBool = AtomicBool::new(false);
/// Bumped at every change of any handler's level or filters.
static FILTERS_GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALL: Mutex<()> = Mutex::new(());

/// Installs our subscriber with all slots inactive, once per process.
fn global() -> Result<&'static Global, LogError> {
    if let Some(g) = GLOBAL.get() {
        return Ok(g);
    }
    let _guard = lock(&INSTALL);
    if let Some(g) = GLOBAL.get() {
        return Ok(g);
    }
    let slots: Vec<SlotLayer> = (0..MAX_HANDLERS)
        .map(|_| HandlerLayer::default().with_filter(HandlerFilter::inactive()))
        .collect();
    let (layer, handle) = reload::Layer::new(slots);
    let subscriber = Registry::default().with(layer);
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::ForeignSubscriber)?;
    let g = Global {
        handle,
        slots: Mutex::new(Slots {
            generation: [0; MAX_HANDLERS],
            output: Default::default(),
            global: None,
        }),
    };
    Ok(GLOBAL.get_or_init(|| g))
}

/// Opens the destination and settles colour, before any slot is touched.
fn build_output(cfg: &LogConfig) -> Result<Output, LogError> {
    let datefmt = DateFormat::new(&cfg.datefmt)?;
    if cfg.filters.len() > MAX_FILTERS {
        return Err(LogError::TooManyFilters);
    }
    let sink = Sink::open_with(
        &cfg.destination,
        cfg.queue_capacity,
        cfg.flush_timeout,
        cfg.rotation,
    )?;
    let color = match cfg.color {
        ColorMode::Always => true,
        ColorMode::Never => false,
        ColorMode::Auto => {
            // anstream checks is-a-terminal, NO_COLOR, CLICOLOR(_FORCE) and TERM.
            sink.is_stderr()
                && anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
        }
    };
    let render = match (&cfg.destination, cfg.format) {
        (Destination::Ship(t), _) if t.protocol() == ShipProtocol::JsonTcp => {
            Render::ShipJson(Origin::detect())
        }
        (Destination::Ship(_), _) => Render::Syslog(Origin::detect(), cfg.facility),
        (_, super::Format::Text) => Render::Text,
        (_, super::Format::Json) => Render::Json,
    };
    Ok(Output {
        sink,
        render,
        datefmt,
        color,
    })
}

fn apply(g: &Global, slot: usize, filter: HandlerFilter, output: Option<Arc<Output>>) {
    // The slot layers live as long as the global subscriber, i.e. forever: modify cannot fail
    // with "subscriber gone"; a poisoned lock would only come from a panic inside our filter.
    let _ = g.handle.modify(|v| {
        *v[slot].filter_mut() = filter;
        v[slot].inner_mut().output = output;
    });
    refresh_field_filters(g);
}

fn refresh_field_filters(g: &Global) {
    let any = g
        .handle
        .with_current(|v| v.iter().any(|s| s.filter().has_field_filters()))
        .unwrap_or(true);
    FIELD_FILTERS.store(any, Ordering::SeqCst);
    FILTERS_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// A number that changes whenever a handler's level or filters change: an answer of
/// [`record_wanted`] may be remembered for as long as this stays the same.
pub fn filters_generation() -> u64 {
    FILTERS_GENERATION.load(Ordering::Relaxed)
}

/// Whether some handler filters records by their fields (PV, address, role, target). When
/// none does, [`record_wanted`] has nothing to add to the level test.
pub fn field_filters_active() -> bool {
    FIELD_FILTERS.load(Ordering::Relaxed)
}

/// Whether at least one handler would keep a record with the probe's fields, by the same
/// level and field rules as for a real record. A producer of records in bulk
/// (caproto-shark) asks this before building a record, so one that a `--log-pv` filter drops
/// costs a glob match instead of a `tracing` dispatch. With no logging set up: false.
pub fn record_wanted(probe: &Probe<'_>) -> bool {
    let Some(g) = GLOBAL.get() else {
        return false;
    };
    g.handle
        .with_current(|v| v.iter().any(|s| s.filter().accepts(probe)))
        .unwrap_or(true)
}

fn configure(cfg: LogConfig, as_global: bool) -> Result<Handler, LogError> {
    let g = global()?;
    let output = Arc::new(build_output(&cfg)?);
    let mut slots = lock(&g.slots);
    let slot = match (as_global, slots.global) {
        (true, Some(s)) => s,
        _ => (0..MAX_HANDLERS)
            .find(|&i| slots.output[i].is_none())
            .ok_or(LogError::NoFreeSlot)?,
    };
    slots.generation[slot] += 1;
    slots.output[slot] = Some(Arc::clone(&output));
    if as_global {
        slots.global = Some(slot);
    }
    let filter = HandlerFilter {
        active: true,
        level: cfg.level,
        filters: cfg.filters,
    };
    apply(g, slot, filter, Some(output));
    Ok(Handler {
        slot,
        generation: slots.generation[slot],
    })
}

/// Sets up *the* global handler, like caproto's `config_caproto_logging`: it replaces the handler
/// of the previous call (other handlers stay), and is what [`get_handler`] returns afterwards.
///
/// Fails if the destination cannot be opened, the date format is invalid, or another global
/// `tracing` subscriber was installed first.
pub fn config_logging(config: LogConfig) -> Result<Handler, LogError> {
    configure(config, true)
}

/// Adds one more handler with its own destination, level and filters, next to the global one
/// (for example DEBUG to a file while the terminal shows WARN). At most [`MAX_HANDLERS`] handlers
/// exist at once; [`Handler::remove`] frees a slot.
pub fn add_handler(config: LogConfig) -> Result<Handler, LogError> {
    configure(config, false)
}

/// The handler from the most recent [`config_logging`], if any, like caproto's `get_handler`.
pub fn get_handler() -> Option<Handler> {
    let g = GLOBAL.get()?;
    let slots = lock(&g.slots);
    slots.global.map(|slot| Handler {
        slot,
        generation: slots.generation[slot],
    })
}

/// Flushes every active handler's destination. Cheap; safe to call from a Ctrl-C handler task
/// before exiting, and called by [`super::LogGuard`] on drop.
pub fn flush() {
    let Some(g) = GLOBAL.get() else { return };
    let outputs: Vec<Arc<Output>> = lock(&g.slots).output.iter().flatten().cloned().collect();
    for o in outputs {
        o.sink.flush();
    }
}

/// Reopens every file destination at its path, for log rotation by renaming (what a daemon
/// does on SIGHUP after `logrotate` moved its file away). Other destinations are untouched.
pub fn reopen_files() {
    let Some(g) = GLOBAL.get() else { return };
    let outputs: Vec<Arc<Output>> = lock(&g.slots).output.iter().flatten().cloned().collect();
    for o in outputs {
        o.sink.reopen();
    }
}

/// Flushes every destination with a bounded wait for shipping queues, then reports (WARN,
/// target `caproto::log`) each shipping destination that dropped records or could not deliver
/// everything. Called by [`super::LogGuard`] on drop; call it yourself at the end of a program
/// that configured shipping handlers without the guard.
pub fn finish() {
    flush();
    let Some(g) = GLOBAL.get() else { return };
    let outputs: Vec<Arc<Output>> = lock(&g.slots).output.iter().flatten().cloned().collect();
    for o in outputs {
        if let Some((target, stats)) = o.sink.ship_stats() {
            report_ship(target, &stats);
        }
    }
}

fn report_ship(target: &ShipTarget, s: &ShipStats) {
    if s.dropped == 0 && s.pending == 0 {
        return;
    }
    tracing::warn!(target: "caproto::log", destination = %target, sent = s.sent,
        dropped = s.dropped, undelivered = s.pending,
        "log shipping: {} records dropped, {} still queued at exit ({} sent)",
        s.dropped, s.pending, s.sent);
}

/// The counters of a live shipping handler (`None` for other destinations).
pub(crate) fn ship_stats(h: &Handler) -> Result<Option<ShipStats>, LogError> {
    let g = GLOBAL.get().ok_or(LogError::HandlerGone)?;
    let slots = lock(&g.slots);
    check_live(&slots, h)?;
    Ok(slots.output[h.slot]
        .as_ref()
        .and_then(|o| o.sink.ship_stats().map(|(_, s)| s)))
}

/// A live shipping handler's destination (as `tcp://host:port`) and counters, for metrics;
/// `None` for other handlers and for removed ones.
pub(crate) fn ship_report(h: &Handler) -> Option<(String, ShipStats)> {
    let g = GLOBAL.get()?;
    let slots = lock(&g.slots);
    check_live(&slots, h).ok()?;
    slots.output[h.slot]
        .as_ref()
        .and_then(|o| o.sink.ship_stats().map(|(t, s)| (t.to_string(), s)))
}

/// Runs `f` on the filter of a live handler's slot, then rebuilds the callsite interest cache.
pub(crate) fn modify_filter<T>(
    h: &Handler,
    f: impl FnOnce(&mut HandlerFilter) -> Result<T, LogError>,
) -> Result<T, LogError> {
    let g = GLOBAL.get().ok_or(LogError::HandlerGone)?;
    let slots = lock(&g.slots);
    check_live(&slots, h)?;
    let mut result = Err(LogError::HandlerGone);
    let _ = g.handle.modify(|v| result = f(v[h.slot].filter_mut()));
    refresh_field_filters(g);
    result
}

/// Reads the filter of a live handler's slot.
pub(crate) fn read_filter<T>(
    h: &Handler,
    f: impl FnOnce(&HandlerFilter) -> T,
) -> Result<T, LogError> {
    let g = GLOBAL.get().ok_or(LogError::HandlerGone)?;
    let slots = lock(&g.slots);
    check_live(&slots, h)?;
    g.handle
        .with_current(|v| f(v[h.slot].filter()))
        .map_err(|_| LogError::HandlerGone)
}

/// Deactivates a live handler's slot and frees it.
pub(crate) fn remove(h: &Handler) -> Result<(), LogError> {
    let g = GLOBAL.get().ok_or(LogError::HandlerGone)?;
    let mut slots = lock(&g.slots);
    check_live(&slots, h)?;
    if let Some(o) = slots.output[h.slot].take() {
        o.sink.flush();
    }
    slots.generation[h.slot] += 1;
    if slots.global == Some(h.slot) {
        slots.global = None;
    }
    apply(g, h.slot, HandlerFilter::inactive(), None);
    Ok(())
}

fn check_live(slots: &Slots, h: &Handler) -> Result<(), LogError> {
    if slots.generation[h.slot] == h.generation && slots.output[h.slot].is_some() {
        Ok(())
    } else {
        Err(LogError::HandlerGone)
    }
}
