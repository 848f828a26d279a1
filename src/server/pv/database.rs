//! Collections of PVs: a [`PvGroup`] shares a name prefix and startup tasks;
//! the [`PvDatabase`] holds every PV a server hosts, by full name.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::{BoxFuture, Pv, PvHandle};
use crate::server::dynamic::DynamicPvs;
use crate::server::error::ServerError;
use crate::sync::lock;

/// A set of PVs sharing a name prefix, plus tasks to start with the server
/// (simulations, periodic updates).
pub struct PvGroup {
    prefix: String,
    pvs: Vec<PvHandle>,
    startup: Vec<BoxFuture<()>>,
}

impl PvGroup {
    /// An empty group whose PV names all start with `prefix`.
    pub fn new(prefix: impl Into<String>) -> PvGroup {
        PvGroup {
            prefix: prefix.into(),
            pvs: Vec::new(),
            startup: Vec::new(),
        }
    }

    /// The name prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Add a PV named `prefix + pv name`; returns its handle.
    pub fn add(&mut self, pv: Pv) -> PvHandle {
        let full = format!("{}{}", self.prefix, pv.name);
        let handle = pv.into_handle(full);
        self.pvs.push(handle.clone());
        handle
    }

    /// A task spawned when the server starts (it is dropped, unstarted, if the
    /// group never runs).
    pub fn on_startup(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.startup.push(Box::pin(task));
    }

    /// The PVs added so far.
    pub fn pvs(&self) -> &[PvHandle] {
        &self.pvs
    }
}

/// Every PV a server hosts, by full name.
#[derive(Default)]
pub struct PvDatabase {
    pvs: HashMap<String, PvHandle>,
    order: Vec<String>,
    /// In a mutex only so the database is `Sync` (futures are `Send` but not `Sync`).
    startup: Mutex<Vec<BoxFuture<()>>>,
    /// PVs made on first use for names no added PV has.
    dynamic: Option<Arc<DynamicPvs>>,
}

impl PvDatabase {
    /// An empty database.
    pub fn new() -> PvDatabase {
        PvDatabase::default()
    }

    /// Add a group's PVs and startup tasks. Fails on a duplicate name.
    pub fn add_group(&mut self, group: PvGroup) -> Result<(), ServerError> {
        for pv in group.pvs {
            self.insert(pv)?;
        }
        lock(&self.startup).extend(group.startup);
        Ok(())
    }

    /// Add one PV under its own name (no prefix).
    pub fn add(&mut self, name: &str, pv: Pv) -> Result<PvHandle, ServerError> {
        let handle = pv.into_handle(name.to_string());
        self.insert(handle.clone())?;
        Ok(handle)
    }

    fn insert(&mut self, pv: PvHandle) -> Result<(), ServerError> {
        if self.pvs.contains_key(pv.name()) {
            return Err(ServerError::DuplicatePv(pv.name().to_string()));
        }
        self.order.push(pv.name().to_string());
        self.pvs.insert(pv.name().to_string(), pv);
        Ok(())
    }

    /// Serve `pv` under the further name `name` as well (a record's alias).
    /// Fails on a name already served.
    pub fn alias(&mut self, name: &str, pv: PvHandle) -> Result<(), ServerError> {
        if self.pvs.contains_key(name) {
            return Err(ServerError::DuplicatePv(name.to_string()));
        }
        self.order.push(name.to_string());
        self.pvs.insert(name.to_string(), pv);
        Ok(())
    }

    /// Look a PV up by full name.
    pub fn get(&self, name: &str) -> Option<&PvHandle> {
        self.pvs.get(name)
    }

    /// Also serve names no added PV has, creating them on first use (see
    /// [`DynamicPvs`]); added PVs take precedence.
    pub fn set_dynamic(&mut self, dynamic: Arc<DynamicPvs>) {
        self.dynamic = Some(dynamic);
    }

    /// Whether a search for `name` should be answered: an added PV, or a
    /// name the dynamic rule serves.
    pub fn serves(&self, name: &str) -> bool {
        self.pvs.contains_key(name) || self.dynamic.as_ref().is_some_and(|d| d.serves(name))
    }

    /// The PV a channel to `name` is created on: an added PV, or one made
    /// (once) by the dynamic rule.
    pub fn find(&self, name: &str) -> Option<PvHandle> {
        match self.pvs.get(name) {
            Some(pv) => Some(pv.clone()),
            None => self.dynamic.as_ref()?.find_or_create(name),
        }
    }

    /// Names in the order they were added.
    pub fn names(&self) -> &[String] {
        &self.order
    }

    /// Number of PVs.
    pub fn len(&self) -> usize {
        self.pvs.len()
    }

    /// Whether there are no PVs.
    pub fn is_empty(&self) -> bool {
        self.pvs.is_empty()
    }

    /// Take the startup tasks (the server spawns them once).
    pub(crate) fn take_startup(&mut self) -> Vec<BoxFuture<()>> {
        std::mem::take(&mut *lock(&self.startup))
    }
}
