//! Hash maps keyed by protocol ids (cid, sid, ioid, subscription id).
//!
//! Every request a circuit handles looks up its ids two or three times, so
//! the hasher is on the hot path. Ids are mostly handed out in sequence
//! (libca numbers cids and ioids from 1, servers number sids), and clients
//! such as catime or an archiver walk their channels in that order. A
//! general-purpose hash scatters consecutive ids over the whole table, so
//! with thousands of channels every lookup was a cache miss (~25% of the
//! server's request path in `benches/server_requests.rs`). [`IdHasher`]
//! keeps the id itself in the low bits, which pick the bucket, so
//! consecutive ids sit in consecutive buckets; the top bits, which hashbrown
//! keeps as a per-entry tag, come from a multiplicative mix so tags still
//! tell entries apart.
//!
//! Trade-off: ids equal in their low bits share a bucket run. A peer that
//! picks such ids on purpose (they choose cids, ioids and subscription ids)
//! only makes lookups on its own circuit slower (linear in its own entry
//! count); memory stays bounded and other circuits are not affected.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Hasher for `u32` protocol ids: identity in the low bits, mixed tag bits on top.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
        const TAG_BITS: u64 = 0xFE00_0000_0000_0000;
        self.0 ^ (self.0.wrapping_mul(MIX) & TAG_BITS)
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u32 keys are hashed here; fold anything else in byte by byte.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

/// Hasher state for [`IdMap`] and [`IdSet`].
pub type IdHashState = BuildHasherDefault<IdHasher>;

/// A map from a protocol id to `V`. Create with `IdMap::default()`.
pub type IdMap<V> = HashMap<u32, V, IdHashState>;

/// A set of protocol ids. Create with `IdSet::default()`.
pub type IdSet = HashSet<u32, IdHashState>;

/// Give back most of a map's table once it is mostly empty: a table grown
/// for 100 000 pending searches keeps its size after they are answered
/// unless told otherwise. Called after removals; amortised O(1).
pub fn shrink_when_sparse<K: std::hash::Hash + Eq, V, S: std::hash::BuildHasher>(
    map: &mut HashMap<K, V, S>,
) {
    if map.capacity() > 64 && map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn consecutive_ids_keep_their_order_in_the_low_bits() {
        let state = IdHashState::default();
        for id in [0u32, 1, 2, 1000, u32::MAX] {
            assert_eq!(state.hash_one(id) & 0xFFFF_FFFF, u64::from(id));
        }
        // The tag bits differ for neighbours, so hashbrown's tag bytes do too.
        let tags: HashSet<u64> = (0..128u32).map(|id| state.hash_one(id) >> 57).collect();
        assert!(tags.len() > 64, "only {} distinct tags", tags.len());
    }

    #[test]
    fn maps_work_for_colliding_low_bits() {
        let mut map = IdMap::default();
        for i in 0..2000u32 {
            map.insert(i << 20, i);
        }
        assert!((0..2000u32).all(|i| map.get(&(i << 20)) == Some(&i)));
        assert_eq!(map.get(&1), None);
    }
}
