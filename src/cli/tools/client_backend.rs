//! The real [`Backend`]: the tools' operations mapped onto
//! [`crate::client`] (`Context`, `Channel`, `Subscription`), with every
//! client error translated into the [`ToolError`] the tools print.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::output::format::Response;
use tokio::sync::mpsc;

use crate::cli::tools::backend::{
    default_read_type, Backend, FollowSpec, PvEvent, ToolChannel, ToolError, ToolSubscription,
};
use crate::client::{self, Channel, ClientError, Context, MonitorEvent, MonitorSpec, Subscription};
use crate::proto::dbr::{DbrClass, DbrType, NativeType, Value};

/// The array limit the tools use when `EPICS_CA_MAX_ARRAY_BYTES` is not set:
/// caproto's tools read arrays of any size, so the EPICS default of 16 kB
/// would refuse reads they make. Replies are still bounded by this.
pub const TOOL_MAX_ARRAY_BYTES: usize = 256 * 1024 * 1024;

/// Updates each subscription of a tool may hold before the oldest are
/// dropped. While caproto-monitor keeps up, a queue holds a handful at most;
/// if printing falls behind for good (a slow terminal or pipe), older updates
/// of a PV give way to newer ones, as the EPICS server's event queue coalesces
/// for a slow client, and memory stays bounded. 128 is over 0.1 s of a
/// 1 kHz PV; the client's default (`DEFAULT_SUB_QUEUE`) is far larger.
pub const TOOL_SUB_QUEUE: usize = 128;

/// Events [`ClientBackend::follow_many`] takes from its set per wake-up.
const FOLLOW_BATCH: usize = 256;

/// The client configuration the tools use: the `EPICS_CA_*` environment
/// (read through `lookup`), the circuit priority and repeater choice from
/// the command line, and [`TOOL_MAX_ARRAY_BYTES`] unless the environment
/// sets a limit.
pub fn tool_config(
    lookup: impl Fn(&str) -> Option<String>,
    priority: u16,
    use_repeater: bool,
) -> Result<client::Config, ClientError> {
    let explicit_limit = lookup("EPICS_CA_MAX_ARRAY_BYTES").is_some_and(|v| !v.trim().is_empty());
    let mut config = client::Config::from_lookup(lookup)?;
    if !explicit_limit {
        config.max_array_bytes = TOOL_MAX_ARRAY_BYTES;
    }
    config.priority = priority;
    config.use_repeater = use_repeater;
    Ok(config)
}

/// A [`Backend`] over one client [`Context`]. Cheap to clone (shares the context).
#[derive(Debug, Clone)]
pub struct ClientBackend {
    ctx: Arc<Context>,
    /// Set when nothing is left to send: the tool exits without closing
    /// the context (see [`ClientBackend::close`]).
    nothing_to_flush: Arc<AtomicBool>,
}

impl ClientBackend {
    /// Wrap a context (created inside the tool's runtime).
    pub fn new(ctx: Context) -> ClientBackend {
        ClientBackend {
            ctx: Arc::new(ctx),
            nothing_to_flush: Arc::default(),
        }
    }

    /// Flush queued requests (a put without callback is only queued) and
    /// close the context. If clones are still alive, the context is closed
    /// when the last one drops instead.
    ///
    /// After an operation that leaves nothing queued (the reads of
    /// [`Backend::get_each`]), the context is left as it is: the process
    /// exits next, and its sockets close with it, as caget's do. Closing
    /// would take every channel off its circuit and free it one by one
    /// (6% of a 10 000-PV get) for nobody to see.
    pub async fn close(self) {
        if self.nothing_to_flush.load(Ordering::Relaxed) {
            std::mem::forget(self.ctx);
            return;
        }
        if let Ok(ctx) = Arc::try_unwrap(self.ctx) {
            ctx.close().await;
        }
    }
}

/// A connected channel plus the native type it had when it connected (the
/// client only knows the type while connected; the tools need it fixed).
#[derive(Debug, Clone)]
pub struct ClientChannel {
    channel: Channel,
    native: NativeType,
}

impl ClientChannel {
    /// What the server told us about the channel (type, count, server,
    /// access rights); `None` once it has disconnected.
    pub fn info(&self) -> Option<client::ChannelInfo> {
        self.channel.info()
    }
}

impl ToolChannel for ClientChannel {
    fn name(&self) -> &str {
        self.channel.name()
    }

    fn native_type(&self) -> NativeType {
        self.native
    }
}

/// A subscription whose updates are translated for the tools.
#[derive(Debug)]
pub struct ClientSubscription {
    sub: Subscription,
}

impl ToolSubscription for ClientSubscription {
    async fn recv(&mut self) -> Option<Result<Response, ToolError>> {
        let item = self.sub.recv().await?;
        Some(item.map(Response::normal).map_err(tool_error))
    }
}

/// Translate a client error into the tools' terms.
pub fn tool_error(e: ClientError) -> ToolError {
    match e {
        // `connect` reports an unanswered search as a timeout.
        ClientError::Timeout { pv, .. } => ToolError::NotFound { pv },
        ClientError::CreateFailed { pv } => ToolError::Server {
            pv,
            message: "server refused to create the channel".into(),
        },
        ClientError::Disconnected { pv } => ToolError::Disconnected { pv },
        ClientError::NoReadAccess { pv } => ToolError::ReadRefused { pv },
        ClientError::NoWriteAccess { pv } => ToolError::WriteRefused { pv },
        ClientError::Server { pv, message, .. } => ToolError::Server { pv, message },
        ClientError::NoReply { pv, .. } => ToolError::Timeout {
            pv,
            awaiting: "a reading",
        },
        other => ToolError::Client(other.to_string()),
    }
}

/// `Timeout` if `fut` does not finish within `timeout`, else its result translated.
async fn bounded<T>(
    pv: &str,
    awaiting: &'static str,
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ToolError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result.map_err(tool_error),
        Err(_) => Err(ToolError::Timeout {
            pv: pv.to_string(),
            awaiting,
        }),
    }
}

impl Backend for ClientBackend {
    type Channel = ClientChannel;
    type Subscription = ClientSubscription;

    async fn connect(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Vec<Result<ClientChannel, ToolError>> {
        self.ctx
            .connect(names, timeout)
            .await
            .into_iter()
            .zip(names)
            .map(|(result, name)| {
                let channel = result.map_err(tool_error)?;
                // Connected a moment ago; if it dropped since, say so.
                let native = channel
                    .native_type()
                    .ok_or_else(|| ToolError::Disconnected { pv: name.clone() })?;
                Ok(ClientChannel { channel, native })
            })
            .collect()
    }

    async fn get_each(
        &self,
        names: &[String],
        pick: impl Fn(NativeType) -> DbrType + Send + Sync + 'static,
        count: Option<u32>,
        timeout: Duration,
        mut each: impl FnMut(usize, Result<Response, ToolError>) -> bool,
    ) {
        let pick = move |info: &client::ChannelInfo| (pick(info.native_type), count);
        let mut readings = self.ctx.read_many(names, pick, timeout).await;
        let mut i = 0;
        while let Some(result) = readings.next().await {
            if !each(i, result.map(Response::normal).map_err(tool_error)) {
                break;
            }
            i += 1;
        }
        // The tool exits next. The channels are neither cleared (one
        // CLEAR_CHANNEL each) nor freed one by one (4% of a 10 000-PV get):
        // the server drops them with the circuit, as it does when caget
        // exits, and the process gives their memory back at once.
        std::mem::forget(readings);
        self.nothing_to_flush.store(true, Ordering::Relaxed);
    }

    async fn follow_many(
        &self,
        names: Vec<String>,
        spec: FollowSpec,
        events: mpsc::Sender<(usize, PvEvent)>,
    ) {
        let monitor = MonitorSpec {
            enum_as_number: spec.enum_as_number,
            count: spec.count,
            queue_per_pv: TOOL_SUB_QUEUE,
            ..MonitorSpec::new(DbrClass::Time, spec.mask)
        };
        let mut set = self.ctx.monitor_many(&names, monitor);
        drop(names);
        // Whether each PV has connected (or been reported missing), and the
        // element count of its latest connection (for camonitor's padding).
        let mut heard = vec![false; set.len()];
        let mut counts = vec![1u32; set.len()];
        let first_wait = tokio::time::sleep(spec.first_wait);
        tokio::pin!(first_wait);
        let mut waited = false;
        let mut batch = Vec::with_capacity(FOLLOW_BATCH);
        loop {
            batch.clear();
            let open = tokio::select! {
                open = set.recv_many(&mut batch, FOLLOW_BATCH) => open,
                _ = &mut first_wait, if !waited => {
                    waited = true;
                    // The first search went unanswered: say so once per PV
                    // (searching goes on).
                    for (i, h) in heard.iter_mut().enumerate() {
                        if !*h {
                            *h = true;
                            if events.send((i, PvEvent::NotFound)).await.is_err() {
                                return;
                            }
                        }
                    }
                    continue;
                }
                _ = events.closed() => return,
            };
            if !open {
                return; // context closed
            }
            for (i, event) in batch.drain(..) {
                let i = i as usize;
                let event = match event {
                    MonitorEvent::Connected(info) => {
                        heard[i] = true;
                        counts[i] = info.count;
                        PvEvent::Connected
                    }
                    MonitorEvent::Update(update) => {
                        PvEvent::Update(update.map(Response::normal).map_err(tool_error))
                    }
                    MonitorEvent::Disconnected => PvEvent::Disconnected { count: counts[i] },
                };
                if events.send((i, event)).await.is_err() {
                    return;
                }
            }
        }
    }

    async fn get(
        &self,
        ch: &ClientChannel,
        dbr_type: DbrType,
        count: Option<u32>,
        timeout: Duration,
    ) -> Result<Response, ToolError> {
        let fut = ch.channel.get(dbr_type, count);
        bounded(ch.name(), "a reading", timeout, fut)
            .await
            .map(Response::normal)
    }

    async fn put(
        &self,
        ch: &ClientChannel,
        value: &Value,
        notify: bool,
        timeout: Duration,
    ) -> Result<(), ToolError> {
        let awaiting = if notify {
            "the write to complete"
        } else {
            "the write to be sent"
        };
        bounded(ch.name(), awaiting, timeout, ch.channel.put(value, notify)).await
    }

    fn subscribe(
        &self,
        ch: &ClientChannel,
        dbr_type: DbrType,
        count: Option<u32>,
        mask: u16,
    ) -> ClientSubscription {
        ClientSubscription {
            sub: ch.channel.subscribe(dbr_type, count, mask),
        }
    }

    async fn follow(&self, name: String, spec: FollowSpec, events: mpsc::Sender<PvEvent>) {
        let channel = match self.ctx.channel(&name) {
            Ok(c) => c,
            Err(e) => {
                let _ = events.send(PvEvent::Update(Err(tool_error(e)))).await;
                return;
            }
        };
        // One channel for the whole run: the client keeps searching for it
        // (with its back-off) and reconnects it; this loop only waits.
        let mut wait = spec.first_wait;
        let mut reported = false;
        loop {
            let info = tokio::select! {
                r = channel.wait_connected(wait) => r,
                _ = events.closed() => return,
            };
            let info = match info {
                Ok(info) => info,
                Err(ClientError::Timeout { .. } | ClientError::CircuitFailed { .. }) => {
                    if !reported {
                        reported = true;
                        if events.send(PvEvent::NotFound).await.is_err() {
                            return;
                        }
                    }
                    wait = FOLLOW_WAIT;
                    continue;
                }
                Err(e) => {
                    let _ = events.send(PvEvent::Update(Err(tool_error(e)))).await;
                    return;
                }
            };
            reported = true;
            if events.send(PvEvent::Connected).await.is_err() {
                return;
            }
            let native = default_read_type(info.native_type, spec.enum_as_number);
            let mut sub = channel.subscribe(
                DbrType::Value(DbrClass::Time, native),
                spec.count,
                spec.mask,
            );
            loop {
                let update = tokio::select! {
                    u = sub.recv() => u,
                    _ = events.closed() => return,
                };
                let event = match update {
                    None => return, // context closed
                    Some(Err(ClientError::Disconnected { .. })) => {
                        PvEvent::Disconnected { count: info.count }
                    }
                    Some(other) => PvEvent::Update(other.map(Response::normal).map_err(tool_error)),
                };
                let lost = matches!(event, PvEvent::Disconnected { .. });
                if events.send(event).await.is_err() {
                    return;
                }
                if lost {
                    // Subscribe afresh after the reconnect, with the native
                    // type and count the server then reports.
                    break;
                }
            }
            wait = FOLLOW_WAIT;
        }
    }
}

/// How long [`ClientBackend::follow`] waits for a reconnect per turn (the
/// client searches meanwhile; the turn only bounds one wait).
const FOLLOW_WAIT: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn errors_map_to_what_the_tools_print() {
        let pv = || "x:y".to_string();
        assert_eq!(
            tool_error(ClientError::Timeout {
                pv: pv(),
                timeout: Duration::from_secs(1)
            }),
            ToolError::NotFound { pv: pv() }
        );
        assert_eq!(
            tool_error(ClientError::NoWriteAccess { pv: pv() }),
            ToolError::WriteRefused { pv: pv() }
        );
        assert_eq!(
            tool_error(ClientError::NoReadAccess { pv: pv() }),
            ToolError::ReadRefused { pv: pv() }
        );
        assert_eq!(
            tool_error(ClientError::Disconnected { pv: pv() }),
            ToolError::Disconnected { pv: pv() }
        );
        assert_eq!(
            tool_error(ClientError::Server {
                pv: pv(),
                status: 0x1a,
                message: "bad".into()
            }),
            ToolError::Server {
                pv: pv(),
                message: "bad".into()
            }
        );
        match tool_error(ClientError::InvalidName(String::new())) {
            ToolError::Client(m) => assert!(m.contains("invalid PV name"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn config_raises_the_array_limit_only_when_unset() {
        let base = [
            ("EPICS_CA_AUTO_ADDR_LIST", "NO"),
            ("EPICS_CA_ADDR_LIST", "127.0.0.1"),
        ];
        let c = tool_config(env(&base), 5, false).expect("parses");
        assert_eq!(c.max_array_bytes, TOOL_MAX_ARRAY_BYTES);
        assert_eq!(c.priority, 5);
        assert!(!c.use_repeater);

        let mut with_limit = base.to_vec();
        with_limit.push(("EPICS_CA_MAX_ARRAY_BYTES", "100000"));
        let c = tool_config(env(&with_limit), 0, true).expect("parses");
        assert_eq!(c.max_array_bytes, 100_000);
        assert!(c.use_repeater);
    }

    #[test]
    fn bad_environment_is_an_error() {
        let vars = [("EPICS_CA_SERVER_PORT", "seventy")];
        assert!(matches!(
            tool_config(env(&vars), 0, false),
            Err(ClientError::Config(_))
        ));
    }
}
