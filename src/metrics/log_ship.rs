//! Log shipping figures (`--log-ship` destinations): records shipped and
//! dropped, and the depth of each destination's queue, read from the
//! handlers' own counters at every scrape.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::{counter_family, gauge_family};
use crate::log::Handler;

/// The shipping handlers of a program, labelled by destination
/// (`tcp://host:port`, ...): a handful, fixed at start-up.
#[derive(Debug)]
pub struct LogShipCollector {
    handlers: Vec<Handler>,
}

impl LogShipCollector {
    /// Report these handlers (those without a shipping destination are skipped).
    pub fn new(handlers: Vec<Handler>) -> LogShipCollector {
        LogShipCollector { handlers }
    }
}

impl Collector for LogShipCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows: Vec<(String, crate::log::ShipStats)> = self
            .handlers
            .iter()
            .filter_map(crate::log::ship_report)
            .collect();
        let each = |f: fn(&crate::log::ShipStats) -> u64| {
            rows.iter().map(move |(d, s)| (d.as_str(), f(s)))
        };
        counter_family(
            &mut e,
            "caproto_log_records_shipped",
            "Log records handed to a collector's socket",
            "destination",
            each(|s| s.sent),
        )?;
        counter_family(
            &mut e,
            "caproto_log_records_dropped",
            "Log records dropped (queue full or refused by the collector's socket)",
            "destination",
            each(|s| s.dropped),
        )?;
        counter_family(
            &mut e,
            "caproto_log_ship_reconnects",
            "Connections to a collector made after the first",
            "destination",
            each(|s| s.reconnects),
        )?;
        gauge_family(
            &mut e,
            "caproto_log_ship_queue_records",
            "Log records waiting to be shipped",
            "destination",
            rows.iter().map(|(d, s)| (d.as_str(), s.pending as i64)),
        )?;
        gauge_family(
            &mut e,
            "caproto_log_ship_connected",
            "Whether the shipper holds a connection to the collector (1) or not (0)",
            "destination",
            rows.iter()
                .map(|(d, s)| (d.as_str(), i64::from(s.connected))),
        )
    }
}
