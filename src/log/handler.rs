//! A handle on one installed handler, for changing it at run time (caproto's `handler.addFilter`).

use tracing::level_filters::LevelFilter;

use super::filter::FieldFilter;
use super::{global, LogError, MAX_FILTERS};

/// Refers to one handler slot as configured by one call of [`super::config_logging`] or
/// [`super::add_handler`]. Once that handler is replaced or removed, every method returns
/// [`LogError::HandlerGone`] instead of touching its successor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handler {
    pub(crate) slot: usize,
    pub(crate) generation: u64,
}

impl Handler {
    /// Adds a filter, ANDed with the ones already there; takes effect for the next record.
    pub fn add_filter(&self, filter: impl Into<FieldFilter>) -> Result<(), LogError> {
        let filter = filter.into();
        global::modify_filter(self, |f| {
            if f.filters.len() >= MAX_FILTERS {
                return Err(LogError::TooManyFilters);
            }
            f.filters.push(filter);
            Ok(())
        })
    }

    /// Replaces all filters at once (no record sees a half-changed set); used by the runtime
    /// log-control PVs.
    pub fn set_filters(&self, filters: Vec<FieldFilter>) -> Result<(), LogError> {
        if filters.len() > MAX_FILTERS {
            return Err(LogError::TooManyFilters);
        }
        global::modify_filter(self, |f| {
            f.filters = filters;
            Ok(())
        })
    }

    /// Removes every filter.
    pub fn clear_filters(&self) -> Result<(), LogError> {
        global::modify_filter(self, |f| {
            f.filters.clear();
            Ok(())
        })
    }

    /// Changes the handler's level.
    pub fn set_level(&self, level: LevelFilter) -> Result<(), LogError> {
        global::modify_filter(self, |f| {
            f.level = level;
            Ok(())
        })
    }

    /// The handler's level.
    pub fn level(&self) -> Result<LevelFilter, LogError> {
        global::read_filter(self, |f| f.level)
    }

    /// A copy of the handler's filters, in the order they were added.
    pub fn filters(&self) -> Result<Vec<FieldFilter>, LogError> {
        global::read_filter(self, |f| f.filters.clone())
    }

    /// The counters of a shipping handler ([`super::LogConfig::ship`]); `None` for others.
    pub fn ship_stats(&self) -> Result<Option<super::ShipStats>, LogError> {
        global::ship_stats(self)
    }

    /// Flushes and detaches the handler, freeing its slot.
    pub fn remove(self) -> Result<(), LogError> {
        global::remove(&self)
    }
}
