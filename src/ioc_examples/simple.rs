//! `simple`: caproto's simplest IOC. A (int), B (float), C (int array of 3).

use super::ExampleOptions;
use crate::server::{Pv, PvGroup};

/// Build the group.
pub fn build(prefix: &str, _: &ExampleOptions) -> PvGroup {
    let mut g = PvGroup::new(prefix);
    g.add(Pv::new("A", 1i32));
    g.add(Pv::new("B", 2.0f64));
    g.add(Pv::new("C", vec![1i32, 2, 3]));
    g
}
