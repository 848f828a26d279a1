//! Counters and gauges for operators: a Prometheus registry, the small HTTP
//! endpoint that serves it, and the metric sets of the server and the process.
//!
//! How it is driven: a program builds a [`MetricsRegistry`], registers the
//! sets it has ([`ServerMetrics`] from [`crate::server::Server::metrics`],
//! [`ProcessCollector`], [`LogShipCollector`], or its own collectors), then
//! hands the registry to [`serve`] on a bound listener (`caproto-ioc
//! --metrics ADDR` does exactly this). Nothing is computed until a scrape:
//! the hot paths only add to atomics, and process figures are read from
//! `/proc` when Prometheus asks.
//!
//! The registry is [`prometheus_client`]'s, so any of its metric types or
//! collectors can be added next to ours. Names follow Prometheus conventions:
//! a `caproto_` prefix, base units (`_bytes`, `_seconds`), `_total` on
//! counters and small, fixed label sets (a CA command name, an operation).
//! The process metrics keep the standard `process_` names every dashboard
//! already knows. `docs/metrics.md` lists them all.

mod http;
mod log_ship;
pub(crate) mod process;
pub(crate) mod server;
mod shark;

pub use http::{bind, serve, Format, MetricsError};
pub use log_ship::LogShipCollector;
pub use process::{ProcessCollector, ProcessSample};
pub use server::{CloseReason, Denial, ServerMetrics};
pub use shark::{SharkMetrics, MAX_TRACKED};

pub use prometheus_client;

use prometheus_client::registry::Registry;

/// The metrics one program exposes: a [`prometheus_client`] registry,
/// built at start-up and then only read (by [`serve`] at every scrape).
#[derive(Debug, Default)]
pub struct MetricsRegistry {
    registry: Registry,
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> MetricsRegistry {
        MetricsRegistry::default()
    }

    /// The underlying registry, to register metrics or collectors of one's own.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Add a collector (read at every scrape).
    pub fn add(&mut self, collector: impl prometheus_client::collector::Collector) {
        self.registry.register_collector(Box::new(collector));
    }

    /// Everything registered, in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail; an encoder error would be a bug in
        // a collector, and a half-written exposition is still the best answer.
        let _ = match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
        };
        out
    }
}

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Encode one counter family whose members differ by the label `key`.
pub(crate) fn counter_family<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    key: &str,
    rows: impl IntoIterator<Item = (&'a str, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (value, n) in rows {
        let labels = [(key, value)];
        ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Encode one counter or gauge without labels.
pub(crate) fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: Single,
) -> Result<(), std::fmt::Error> {
    match value {
        Single::Counter(n) => {
            let c = ConstCounter::new(n);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
        }
        Single::Gauge(v) => {
            let g = ConstGauge::new(v);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
        }
    }
}

/// A value for [`single`].
pub(crate) enum Single {
    Counter(u64),
    Gauge(i64),
}

/// Encode one gauge family whose members differ by the label `key`.
pub(crate) fn gauge_family<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    key: &str,
    rows: impl IntoIterator<Item = (&'a str, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for (value, n) in rows {
        let labels = [(key, value)];
        ConstGauge::new(n).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
