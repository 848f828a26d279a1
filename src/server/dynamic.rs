//! PVs created on first use: a server that answers searches for any name a
//! rule accepts and makes the PV when a client first creates a channel to it
//! (caproto's `defaultdict` server, served by `caproto-ioc defaultdict`).
//!
//! A search only asks [`DynamicPvs::serves`]; nothing is allocated until
//! CREATE_CHAN. The number of PVs made is capped, so a client that asks for
//! endless new names cannot grow the server without bound: past the cap,
//! new names are neither answered nor created (and a warning is logged once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::pv::{Pv, PvHandle};

/// Which names to serve, and what to make for one.
type Accepts = Box<dyn Fn(&str) -> bool + Send + Sync>;
type Make = Box<dyn Fn(&str) -> Option<PvHandle> + Send + Sync>;

/// The PVs a server creates on demand. Shared (`Arc`) between the database
/// and whoever wants to list what was created.
pub struct DynamicPvs {
    accepts: Accepts,
    make: Make,
    limit: usize,
    created: Mutex<Created>,
    warned: AtomicBool,
}

#[derive(Default)]
struct Created {
    by_name: HashMap<String, PvHandle>,
    order: Vec<String>,
}

impl std::fmt::Debug for DynamicPvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicPvs")
            .field("limit", &self.limit)
            .field("created", &self.lock().order.len())
            .finish()
    }
}

impl DynamicPvs {
    /// Serve every name `accepts` admits, making its PV with `make` (the
    /// name given to [`Pv::new`] there is replaced by the full name), at
    /// most `limit` of them.
    pub fn new(
        accepts: impl Fn(&str) -> bool + Send + Sync + 'static,
        make: impl Fn(&str) -> Pv + Send + Sync + 'static,
        limit: usize,
    ) -> Arc<DynamicPvs> {
        Arc::new(DynamicPvs {
            accepts: Box::new(accepts),
            make: Box::new(move |name: &str| Some(make(name).into_handle(name.to_string()))),
            limit,
            created: Mutex::new(Created::default()),
            warned: AtomicBool::new(false),
        })
    }

    /// Serve every name `accepts` admits with the live PV `make` returns
    /// for it (`None`: not served after all), e.g. a database record's
    /// field channel, or the record's own PV for `REC.VAL`.
    pub fn from_handles(
        accepts: impl Fn(&str) -> bool + Send + Sync + 'static,
        make: impl Fn(&str) -> Option<PvHandle> + Send + Sync + 'static,
        limit: usize,
    ) -> Arc<DynamicPvs> {
        Arc::new(DynamicPvs {
            accepts: Box::new(accepts),
            make: Box::new(make),
            limit,
            created: Mutex::new(Created::default()),
            warned: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Created> {
        crate::sync::lock(&self.created)
    }

    fn full(&self, created: &Created) -> bool {
        let full = created.order.len() >= self.limit;
        if full && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "caproto::serv",
                "{} PVs created on demand (the limit); further new names are not served",
                self.limit
            );
        }
        full
    }

    /// Whether a search for `name` should be answered.
    pub fn serves(&self, name: &str) -> bool {
        if !(self.accepts)(name) {
            return false;
        }
        let created = self.lock();
        created.by_name.contains_key(name) || !self.full(&created)
    }

    /// The PV for `name`, made now if this is its first use; `None` if the
    /// name is not served (or the cap is reached).
    pub fn find_or_create(&self, name: &str) -> Option<PvHandle> {
        if !(self.accepts)(name) {
            return None;
        }
        let mut created = self.lock();
        if let Some(pv) = created.by_name.get(name) {
            return Some(pv.clone());
        }
        if self.full(&created) {
            return None;
        }
        let pv = (self.make)(name)?;
        created.by_name.insert(name.to_string(), pv.clone());
        created.order.push(name.to_string());
        tracing::info!(target: "caproto::serv", pv = name, "created PV {name} on first use");
        Some(pv)
    }

    /// Names created so far, in order of creation.
    pub fn created_names(&self) -> Vec<String> {
        self.lock().order.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dbr::NativeType;

    #[test]
    fn creates_once_per_name_and_stops_at_the_limit() {
        let d = DynamicPvs::new(|n| n.starts_with("p:"), |_| Pv::new("", 0.0), 2);
        assert!(d.serves("p:a"));
        assert!(!d.serves("q:a"));
        assert!(d.created_names().is_empty(), "a search creates nothing");
        let a = d.find_or_create("p:a").unwrap();
        assert_eq!((a.name(), a.native_type()), ("p:a", NativeType::Double));
        let again = d.find_or_create("p:a").unwrap();
        assert_eq!(again.name(), "p:a");
        assert_eq!(d.created_names(), ["p:a"]);
        assert!(d.find_or_create("q:b").is_none());
        d.find_or_create("p:b").unwrap();
        // At the limit: known names still served, new ones not.
        assert!(d.serves("p:a"));
        assert!(!d.serves("p:c"));
        assert!(d.find_or_create("p:c").is_none());
        assert_eq!(d.created_names(), ["p:a", "p:b"]);
    }
}
