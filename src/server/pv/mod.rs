//! The PV-hosting API: a PV is a value plus metadata, an optional put hook,
//! and a handle that posts new values to every subscriber.
//!
//! ```no_run
//! use caproto::server::{PutError, Pv, PvGroup, ValueExt};
//! let mut group = PvGroup::new("demo:");
//! let x = group.add(Pv::new("x", 1.5).units("mm").precision(3));
//! group.add(Pv::new("limit", 10).on_put(|_pv, v| match v.as_f64() {
//!     Some(f) if f > 100.0 => Err(PutError::OutOfRange("at most 100".into())),
//!     _ => Ok(None),
//! }));
//! group.on_startup(async move {
//!     loop {
//!         let next = x.value().as_f64().unwrap_or(0.0) + 1.0;
//!         x.post(next).ok();
//!         tokio::time::sleep(std::time::Duration::from_secs(1)).await;
//!     }
//! });
//! ```

mod database;
mod deferred;
mod record_val;
mod value;

pub use database::{PvDatabase, PvGroup};
use value::{change_mask, default_record_type};
pub(crate) use value::{pad, truncate};
pub use value::{IntoValue, ValueExt};

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};

use crate::proto::command::mask;
use crate::proto::dbr::{self, DbrType, EpicsTime, Metadata, NativeType, Value};
use crate::proto::status::{AlarmSeverity, AlarmStatus};
use crate::server::access::DEFAULT_GROUP;
use crate::server::error::{eca, PutError};
use crate::server::subscription::{Subscription, Wakes};
use crate::sync::lock;

/// A boxed, sendable future, as returned by async put hooks and startup tasks.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a put hook returns: `Ok(None)` stores the value as written,
/// `Ok(Some(v))` stores `v` instead, `Err` refuses the write.
pub type PutResult = Result<Option<Value>, PutError>;

type SyncHook = dyn Fn(&PvHandle, Value) -> PutResult + Send + Sync;
type AsyncHook = dyn Fn(PvHandle, Value) -> BoxFuture<PutResult> + Send + Sync;
type HandledHook = dyn Fn(&PvHandle, Value) -> Result<(), PutError> + Send + Sync;

#[derive(Clone)]
enum PutHook {
    Sync(Arc<SyncHook>),
    Async(Arc<AsyncHook>),
    /// The hook stores and posts the value itself (database records).
    Handled(Arc<HandledHook>),
}

/// A PV's value and metadata at one instant. Shared between the PV and every
/// subscriber queue that has not sent it yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PvSnapshot {
    /// The value, in the PV's native type.
    pub value: Value,
    /// Alarm, timestamp, limits, units, enum strings.
    pub meta: Metadata,
}

/// A PV definition, built with chained calls and then added to a [`PvGroup`].
pub struct Pv {
    name: String,
    value: Value,
    meta: Metadata,
    read_only: bool,
    max_count: Option<usize>,
    record_type: Option<String>,
    hook: Option<PutHook>,
    record: Option<crate::server::db::ValBinding>,
    access_group: Arc<str>,
    access_level: u32,
}

impl Pv {
    /// A read-write PV whose native type and initial value come from `value`.
    /// Its element count is the initial length unless [`Pv::max_count`] says more.
    pub fn new(name: impl Into<String>, value: impl IntoValue) -> Pv {
        Pv {
            name: name.into(),
            value: value.into_value(),
            meta: Metadata::default(),
            read_only: false,
            max_count: None,
            record_type: None,
            hook: None,
            record: None,
            access_group: Arc::from(DEFAULT_GROUP),
            access_level: 0,
        }
    }

    /// An ENUM PV with the given state strings and initial index.
    pub fn enumerated(name: impl Into<String>, strings: &[&str], index: u16) -> Pv {
        let mut pv = Pv::new(name, Value::Enum(vec![index]));
        pv.meta.enum_strings = strings.iter().map(|s| s.to_string()).collect();
        pv
    }

    /// Refuse client writes (ACCESS_RIGHTS says read-only; puts get ECA_NOWTACCESS).
    pub fn read_only(mut self) -> Pv {
        self.read_only = true;
        self
    }

    /// The access security group (an ACF file's `ASG`) whose rules decide
    /// what clients may do with this PV; `DEFAULT` unless set. A group the
    /// loaded file does not define falls back to `DEFAULT`, as in EPICS.
    pub fn access_group(mut self, group: &str) -> Pv {
        self.access_group = Arc::from(group);
        self
    }

    /// The access security level (EPICS's ASL): rules apply to the PV only
    /// if their level is at least this. 0 (the default) is a record's VAL
    /// field; 1 is for settings that only level-1 rules may change.
    pub fn access_level(mut self, level: u32) -> Pv {
        self.access_level = level;
        self
    }

    /// The PV's element count (array capacity), if larger than the initial value.
    pub fn max_count(mut self, n: usize) -> Pv {
        self.max_count = Some(n);
        self
    }

    /// Engineering units (GR/CTRL types; up to 7 bytes on the wire).
    pub fn units(mut self, units: &str) -> Pv {
        self.meta.graphics.units = units.to_string();
        self
    }

    /// Display precision (GR/CTRL FLOAT and DOUBLE).
    pub fn precision(mut self, precision: i16) -> Pv {
        self.meta.graphics.precision = precision;
        self
    }

    /// Display limits (LOPR/HOPR).
    pub fn display_limits(mut self, low: f64, high: f64) -> Pv {
        self.meta.graphics.lower_disp_limit = low;
        self.meta.graphics.upper_disp_limit = high;
        self
    }

    /// Control limits (DRVL/DRVH).
    pub fn control_limits(mut self, low: f64, high: f64) -> Pv {
        self.meta.control.lower_ctrl_limit = low;
        self.meta.control.upper_ctrl_limit = high;
        self
    }

    /// Alarm limits (LOLO, LOW, HIGH, HIHI).
    pub fn alarm_limits(mut self, lolo: f64, low: f64, high: f64, hihi: f64) -> Pv {
        let g = &mut self.meta.graphics;
        g.lower_alarm_limit = lolo;
        g.lower_warning_limit = low;
        g.upper_warning_limit = high;
        g.upper_alarm_limit = hihi;
        self
    }

    /// Initial alarm status and severity.
    pub fn alarm(mut self, status: AlarmStatus, severity: AlarmSeverity) -> Pv {
        self.meta.status = status;
        self.meta.severity = severity;
        self
    }

    /// Replace the whole metadata (timestamp is set when the PV is added).
    pub fn metadata(mut self, meta: Metadata) -> Pv {
        self.meta = meta;
        self
    }

    /// The record type reported for DBR_CLASS_NAME (default from the native type).
    pub fn record_type(mut self, rtyp: &str) -> Pv {
        self.record_type = Some(rtyp.to_string());
        self
    }

    /// A synchronous put hook, run in the circuit's task before the value is
    /// stored. It gets the value already converted to the PV's native type.
    pub fn on_put(
        mut self,
        hook: impl Fn(&PvHandle, Value) -> PutResult + Send + Sync + 'static,
    ) -> Pv {
        self.hook = Some(PutHook::Sync(Arc::new(hook)));
        self
    }

    /// A put hook that stores and posts the written value itself (with
    /// [`PvHandle::publish`]), e.g. a database record that processes on a
    /// write, clamps the value and posts only past its deadband.
    pub fn on_put_handled(
        mut self,
        hook: impl Fn(&PvHandle, Value) -> Result<(), PutError> + Send + Sync + 'static,
    ) -> Pv {
        self.hook = Some(PutHook::Handled(Arc::new(hook)));
        self
    }

    /// An async put hook (e.g. talking to hardware). WRITE_NOTIFY completes
    /// when its future does; other clients are not held up meanwhile.
    pub fn on_put_async<F, Fut>(mut self, hook: F) -> Pv
    where
        F: Fn(PvHandle, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = PutResult> + Send + 'static,
    {
        self.hook = Some(PutHook::Async(Arc::new(move |pv, v| Box::pin(hook(pv, v)))));
        self
    }

    pub(crate) fn into_handle(self, full_name: String) -> PvHandle {
        let native = self.value.native_type();
        let max_count = self.max_count.unwrap_or(0).max(self.value.len()).max(1);
        let mut meta = self.meta;
        meta.stamp = EpicsTime::now();
        let record_type = self
            .record_type
            .unwrap_or_else(|| default_record_type(native, max_count).to_string());
        PvHandle(Arc::new(PvInner {
            name: full_name.into(),
            native,
            max_count,
            read_only: self.read_only,
            record_type,
            hook: self.hook,
            record: self.record,
            stale: AtomicBool::new(false),
            watchers: AtomicUsize::new(0),
            access_group: self.access_group,
            access_level: self.access_level,
            state: Mutex::new(PvState {
                current: Arc::new(PvSnapshot {
                    value: self.value,
                    meta,
                }),
                subs: HashMap::new(),
            }),
        }))
    }
}

struct PvInner {
    name: Arc<str>,
    native: NativeType,
    max_count: usize,
    read_only: bool,
    record_type: String,
    hook: Option<PutHook>,
    /// The record this PV is the VAL of (see [`record_val`]).
    record: Option<crate::server::db::ValBinding>,
    /// The record's state is ahead of the snapshot: bring it up to date
    /// before reading it (see [`deferred`]).
    stale: AtomicBool,
    /// Subscriptions in [`PvState::subs`], and any being registered.
    watchers: AtomicUsize,
    access_group: Arc<str>,
    access_level: u32,
    state: Mutex<PvState>,
}

struct PvState {
    current: Arc<PvSnapshot>,
    /// Live subscriptions keyed by their address ([`sub_key`]), so adding and
    /// removing one is O(1) even with thousands on one PV.
    subs: HashMap<usize, Arc<Subscription>>,
}

/// A subscription's key in [`PvState::subs`]: its address, unique while the
/// map holds a clone of the `Arc`.
fn sub_key(sub: &Arc<Subscription>) -> usize {
    Arc::as_ptr(sub) as usize
}

/// A live PV: read it, post new values, change metadata. Cheap to clone; all
/// clones refer to the same PV.
#[derive(Clone)]
pub struct PvHandle(Arc<PvInner>);

impl fmt::Debug for PvHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvHandle")
            .field("name", &self.0.name)
            .field("native", &self.0.native)
            .field("max_count", &self.0.max_count)
            .finish()
    }
}

impl PvHandle {
    /// The access security group (see [`Pv::access_group`]).
    pub fn access_group(&self) -> &str {
        &self.0.access_group
    }

    /// The access security level (see [`Pv::access_level`]).
    pub fn access_level(&self) -> u32 {
        self.0.access_level
    }

    /// Full name, prefix included.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Full name as a shared string (cheap to clone into log records).
    pub(crate) fn name_arc(&self) -> Arc<str> {
        Arc::clone(&self.0.name)
    }

    /// Native type (fixed for the PV's lifetime).
    pub fn native_type(&self) -> NativeType {
        self.0.native
    }

    /// Element count reported at CREATE_CHAN.
    pub fn max_count(&self) -> usize {
        self.0.max_count
    }

    /// Whether clients may write.
    pub fn is_read_only(&self) -> bool {
        self.0.read_only
    }

    /// Record type for DBR_CLASS_NAME.
    pub fn record_type(&self) -> &str {
        &self.0.record_type
    }

    /// The current value and metadata.
    pub fn snapshot(&self) -> Arc<PvSnapshot> {
        self.fresh();
        Arc::clone(&lock(&self.0.state).current)
    }

    /// Run `f` on the current snapshot under the PV's lock. A read encodes
    /// its reply straight from it: no reference is taken and dropped (two
    /// atomic operations per read on the hottest path). Posts to this PV
    /// wait meanwhile, as a record's scan waits on a channel access get.
    pub(crate) fn with_snapshot<R>(&self, f: impl FnOnce(&PvSnapshot) -> R) -> R {
        self.fresh();
        f(&lock(&self.0.state).current)
    }

    /// The current value.
    pub fn value(&self) -> Value {
        self.snapshot().value.clone()
    }

    /// Post a new value (timestamped now, alarm unchanged) to the PV and every
    /// subscriber. The value is converted to the native type if needed and
    /// truncated to [`PvHandle::max_count`].
    pub fn post(&self, value: impl IntoValue) -> Result<(), PutError> {
        self.post_with(value.into_value(), |_| {})
    }

    /// Post a new value with an alarm status and severity.
    pub fn post_alarm(
        &self,
        value: impl IntoValue,
        status: AlarmStatus,
        severity: AlarmSeverity,
    ) -> Result<(), PutError> {
        self.post_with(value.into_value(), |m| {
            m.status = status;
            m.severity = severity;
        })
    }

    /// Post a new value after letting `edit` change the metadata (the
    /// timestamp is set to now before `edit` runs, so it may override it).
    /// Subscribers get DBE_VALUE|DBE_LOG, plus DBE_ALARM when the alarm
    /// changed and DBE_PROPERTY when other metadata did.
    pub fn post_with(
        &self,
        value: Value,
        edit: impl FnOnce(&mut Metadata),
    ) -> Result<(), PutError> {
        let value = self.coerce(value)?;
        self.fresh();
        let mut state = lock(&self.0.state);
        let mut meta = state.current.meta.clone();
        meta.stamp = EpicsTime::now();
        edit(&mut meta);
        let mut events = mask::VALUE | mask::LOG;
        events |= change_mask(&state.current.meta, &meta);
        self.publish_locked(&mut state, PvSnapshot { value, meta }, events);
        Ok(())
    }

    /// Replace the value and the whole metadata (timestamp included) and
    /// offer the new state to subscribers wanting any of `events` (0: store
    /// silently, as a record does when a processing posts nothing). The
    /// value is converted to the native type and clamped to the count.
    pub fn publish(&self, value: Value, meta: Metadata, events: u16) -> Result<(), PutError> {
        let value = self.coerce(value)?;
        let mut state = lock(&self.0.state);
        self.publish_locked(&mut state, PvSnapshot { value, meta }, events);
        Ok(())
    }

    /// Change the current value and metadata in place and offer the result
    /// to subscribers wanting the events `edit` returns (0: none). The
    /// snapshot is copied first only when a subscriber queue or a reader
    /// still holds it, so a record processing with no monitor queued
    /// allocates nothing. `edit` must leave the value in the PV's native
    /// type with at most [`max_count`](Self::max_count) elements (it is not
    /// converted): [`publish`](Self::publish) is the general way.
    #[inline]
    pub(crate) fn publish_in_place(&self, edit: impl FnOnce(&mut PvSnapshot) -> u16) {
        let mut state = lock(&self.0.state);
        // `get_mut` first: inlined, it is the whole cost when nobody holds
        // the snapshot (`make_mut` is a call that checks the same thing).
        let events = match Arc::get_mut(&mut state.current) {
            Some(snap) => edit(snap),
            None => edit(Arc::make_mut(&mut state.current)),
        };
        self.offer_current(&mut state, events);
    }

    /// Change metadata only (units, limits, enum strings, alarm). Subscribers
    /// with DBE_PROPERTY (or DBE_ALARM for alarm changes) get the new state.
    pub fn update_metadata(&self, edit: impl FnOnce(&mut Metadata)) {
        self.fresh();
        let mut state = lock(&self.0.state);
        let mut meta = state.current.meta.clone();
        edit(&mut meta);
        let events = change_mask(&state.current.meta, &meta);
        let value = state.current.value.clone();
        self.publish_locked(&mut state, PvSnapshot { value, meta }, events);
    }

    fn publish_locked(&self, state: &mut PvState, snap: PvSnapshot, events: u16) {
        state.current = Arc::new(snap);
        self.offer_current(state, events);
    }

    /// Queue the current snapshot for every live subscriber wanting
    /// `events`, then wake each circuit concerned once. Inlined: most
    /// writes have nobody to offer to, and that test is all they pay.
    #[inline]
    fn offer_current(&self, state: &mut PvState, events: u16) {
        if events != 0 && !state.subs.is_empty() {
            self.offer_to_subscribers(state, events);
        }
    }

    fn offer_to_subscribers(&self, state: &mut PvState, events: u16) {
        let before = state.subs.len();
        state.subs.retain(|_, s| !s.is_cancelled());
        self.unwatch(before - state.subs.len());
        let mut wakes = Wakes::default();
        for s in state.subs.values() {
            s.offer_batched(&state.current, events, &mut wakes);
        }
        wakes.wake_all();
    }

    /// Convert to the native type and clamp to the element count.
    fn coerce(&self, value: Value) -> Result<Value, PutError> {
        let mut value = if value.native_type() == self.0.native {
            value
        } else {
            let strings = lock(&self.0.state).current.meta.enum_strings.clone();
            value
                .convert(self.0.native, &strings)
                .map_err(|e| PutError::NoConvert(e.to_string()))?
        };
        if value.len() > self.0.max_count {
            truncate(&mut value, self.0.max_count);
        }
        Ok(value)
    }

    /// A write from a client: convert, run the put hook, store and post.
    pub(crate) async fn client_put(&self, value: Value) -> Result<(), PutError> {
        let Some(PutHook::Async(f)) = &self.0.hook else {
            return self.client_put_now(value);
        };
        if self.0.read_only {
            return Err(PutError::ReadOnly);
        }
        let value = self.coerce(value)?;
        let stored = f(self.clone(), value.clone()).await?.unwrap_or(value);
        self.post_with(stored, |_| {})
    }

    /// Whether a client write has to wait on an asynchronous put hook (see
    /// [`Pv::on_put_async`]); other writes are applied by
    /// [`client_put_now`](Self::client_put_now) without building a future.
    pub(crate) fn put_waits(&self) -> bool {
        matches!(self.0.hook, Some(PutHook::Async(_)))
    }

    /// A client write to a PV with no put hook or a synchronous one. With an
    /// asynchronous hook the hook is skipped: use `client_put` for those.
    pub(crate) fn client_put_now(&self, value: Value) -> Result<(), PutError> {
        if self.0.read_only {
            return Err(PutError::ReadOnly);
        }
        let value = self.coerce(value)?;
        let stored = match &self.0.hook {
            Some(PutHook::Sync(f)) => f(self, value.clone())?.unwrap_or(value),
            Some(PutHook::Handled(f)) => return f(self, value),
            None | Some(PutHook::Async(_)) => value,
        };
        self.post_with(stored, |_| {})
    }

    /// A client write of `count` elements of plain `data_type`, applied to
    /// the current value in place when nothing else holds that snapshot (no
    /// subscriber has it queued, no read is encoding it): the payload is
    /// decoded into the value's own storage and the timestamp set, with no
    /// allocation; subscribers then get it as from [`post`](Self::post).
    ///
    /// `Ok(false)`: not applicable (a put hook, another type, a count
    /// beyond the PV's or of 0, a string, a shared snapshot); nothing was
    /// changed: decode the payload and use
    /// [`client_put_now`](Self::client_put_now).
    #[inline]
    pub(crate) fn client_write_in_place(
        &self,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Result<bool, PutError> {
        let inner = &self.0;
        if inner.hook.is_some() || inner.read_only || count == 0 {
            return Ok(false);
        }
        if count as usize > inner.max_count || data_type != DbrType::plain(inner.native) {
            return Ok(false);
        }
        let mut state = lock(&inner.state);
        let Some(snap) = Arc::get_mut(&mut state.current) else {
            return Ok(false);
        };
        match dbr::decode_plain_into(data_type, count, data, &mut snap.value) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => return Err(PutError::Status(eca::BADTYPE, e.to_string())),
        }
        snap.meta.stamp = EpicsTime::now();
        self.offer_current(&mut state, mask::VALUE | mask::LOG);
        Ok(true)
    }

    /// Write alarm-acknowledge fields (DBR_PUT_ACKT / DBR_PUT_ACKS).
    pub(crate) fn put_ack(&self, ackt: Option<u16>, acks: Option<u16>) -> Result<(), PutError> {
        if self.0.read_only {
            return Err(PutError::ReadOnly);
        }
        self.update_metadata(|m| {
            if let Some(t) = ackt {
                m.ackt = t;
            }
            if let Some(s) = acks {
                if s >= m.acks.0 {
                    m.acks = AlarmSeverity(0);
                }
            }
        });
        Ok(())
    }

    /// Register a subscription and queue the current state as its first event.
    pub(crate) fn subscribe(&self, sub: &Arc<Subscription>) {
        self.watch();
        let mut state = lock(&self.0.state);
        if state.subs.insert(sub_key(sub), Arc::clone(sub)).is_some() {
            // Registered twice: counted once.
            self.unwatch(1);
        }
        let current = Arc::clone(&state.current);
        sub.offer(&current, u16::MAX);
    }

    /// Forget a subscription (it should already be cancelled).
    pub(crate) fn unsubscribe(&self, sub: &Arc<Subscription>) {
        if lock(&self.0.state).subs.remove(&sub_key(sub)).is_some() {
            self.unwatch(1);
        }
    }

    /// Number of live subscriptions (for tests and diagnostics).
    pub fn subscriber_count(&self) -> usize {
        lock(&self.0.state)
            .subs
            .values()
            .filter(|s| !s.is_cancelled())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dbr::DbrType;
    use crate::server::error::ServerError;
    use crate::server::subscription::CircuitEvents;

    #[test]
    fn group_prefixes_and_types() {
        let mut g = PvGroup::new("p:");
        let a = g.add(Pv::new("A", 1));
        let c = g.add(Pv::new("C", vec![1, 2, 3]));
        let s = g.add(Pv::new("S", "hi").read_only());
        let w = g.add(Pv::new("W", 0.0).max_count(10));
        assert_eq!(a.name(), "p:A");
        assert_eq!(a.native_type(), NativeType::Long);
        assert_eq!(c.max_count(), 3);
        assert_eq!(c.record_type(), "waveform");
        assert!(s.is_read_only());
        assert_eq!(w.max_count(), 10);
        let mut db = PvDatabase::new();
        db.add_group(g).unwrap();
        assert_eq!(db.names(), ["p:A", "p:C", "p:S", "p:W"]);
        let mut dup = PvGroup::new("p:");
        dup.add(Pv::new("A", 2));
        assert!(matches!(db.add_group(dup), Err(ServerError::DuplicatePv(n)) if n == "p:A"));
    }

    #[test]
    fn post_fans_out_and_alarm_sets_mask() {
        let mut g = PvGroup::new("");
        let pv = g.add(Pv::new("x", 1.0));
        let events = Arc::new(CircuitEvents::default());
        let value_sub = Arc::new(Subscription::new(
            1,
            1,
            DbrType::DOUBLE,
            1,
            mask::VALUE,
            Arc::clone(&events),
        ));
        let alarm_sub = Arc::new(Subscription::new(
            2,
            1,
            DbrType::DOUBLE,
            1,
            mask::ALARM,
            Arc::clone(&events),
        ));
        pv.subscribe(&value_sub);
        pv.subscribe(&alarm_sub);
        assert_eq!(events.take_ready().len(), 2, "initial events");
        let mut out = Vec::new();
        value_sub.drain(10, &mut out);
        alarm_sub.drain(10, &mut out);
        out.clear();

        pv.post(2.0).unwrap();
        assert_eq!(events.take_ready().len(), 1, "only the value subscriber");
        value_sub.drain(10, &mut out);
        assert_eq!(out[0].value, Value::Double(vec![2.0]));

        pv.post_alarm(3.0, AlarmStatus(3), AlarmSeverity(2))
            .unwrap();
        assert_eq!(events.take_ready().len(), 2);
        assert_eq!(pv.snapshot().meta.severity, AlarmSeverity(2));

        alarm_sub.cancel();
        pv.unsubscribe(&alarm_sub);
        assert_eq!(pv.subscriber_count(), 1);
    }

    #[test]
    fn read_only_refuses_client_put_and_truncates() {
        let mut g = PvGroup::new("");
        let ro = g.add(Pv::new("ro", 1.0).read_only());
        let arr = g.add(Pv::new("arr", vec![1, 2]));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(
            rt.block_on(ro.client_put(Value::Double(vec![2.0]))),
            Err(PutError::ReadOnly)
        );
        rt.block_on(arr.client_put(Value::Long(vec![5, 6, 7])))
            .unwrap();
        assert_eq!(arr.value(), Value::Long(vec![5, 6]));
    }

    #[test]
    fn hooks_can_replace_or_reject() {
        let mut g = PvGroup::new("");
        let doubled = g.add(Pv::new("d", 1).on_put(|_, v| match v {
            Value::Long(x) if x[0] < 0 => Err(PutError::OutOfRange("negative".into())),
            Value::Long(x) => Ok(Some(Value::Long(vec![x[0] * 2]))),
            _ => Ok(None),
        }));
        let slow = g.add(Pv::new("s", 0.0).on_put_async(|_, v| async move {
            tokio::task::yield_now().await;
            Ok(Some(v))
        }));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(doubled.client_put(Value::Long(vec![4])))
            .unwrap();
        assert_eq!(doubled.value(), Value::Long(vec![8]));
        let err = rt
            .block_on(doubled.client_put(Value::Long(vec![-1])))
            .unwrap_err();
        assert_eq!(err.eca(), crate::server::error::eca::PUTFAIL);
        rt.block_on(slow.client_put(Value::Double(vec![2.5])))
            .unwrap();
        assert_eq!(slow.value(), Value::Double(vec![2.5]));
    }

    /// A PV counts as watched from the moment a subscription starts
    /// registering until it leaves, whether unsubscribed or found
    /// cancelled by a post; registering one twice counts it once.
    #[test]
    fn watchers_are_counted_once_until_they_leave() {
        let mut g = PvGroup::new("");
        let pv = g.add(Pv::new("x", 1.0));
        let events = Arc::new(CircuitEvents::default());
        let sub = |id| {
            Arc::new(Subscription::new(
                id,
                1,
                DbrType::DOUBLE,
                1,
                mask::VALUE,
                Arc::clone(&events),
            ))
        };
        let (a, b) = (sub(1), sub(2));
        assert!(!pv.is_watched());
        pv.subscribe(&a);
        pv.subscribe(&a);
        pv.subscribe(&b);
        assert!(pv.is_watched());
        pv.unsubscribe(&a);
        pv.unsubscribe(&a);
        assert!(pv.is_watched(), "b is still on");
        b.cancel();
        assert!(pv.is_watched(), "cancelled, not yet found so");
        pv.post(2.0).unwrap();
        assert!(!pv.is_watched(), "the post dropped the cancelled one");
        pv.subscribe(&a);
        assert!(pv.is_watched());
    }
}
