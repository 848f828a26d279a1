//! Hash maps keyed by protocol ids (cid, sid, ioid, subscription id).
//!
//! Every request a circuit handles looks up one or two ids, so the hasher is
//! on the hot path: std's SipHash showed up at ~5% of the server's CPU under
//! EPICS `catime`. foldhash is several times faster on a `u32` and still
//! seeded per process, so a peer that picks its own ids (cid, ioid,
//! subscription id) cannot precompute colliding ones.

use std::collections::{HashMap, HashSet};

/// Hasher state for [`IdMap`] and [`IdSet`].
pub type IdHashState = foldhash::fast::RandomState;

/// A map from a protocol id to `V`. Create with `IdMap::default()`.
pub type IdMap<V> = HashMap<u32, V, IdHashState>;

/// A set of protocol ids. Create with `IdSet::default()`.
pub type IdSet = HashSet<u32, IdHashState>;
