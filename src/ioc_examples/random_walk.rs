//! `random_walk`: x takes a random step in [-1, 1) every dt seconds.

use std::time::Duration;

use super::ExampleOptions;
use crate::rng::Rng;
use crate::server::{Pv, PvGroup, ValueExt};

/// Build the group.
pub fn build(prefix: &str, _: &ExampleOptions) -> PvGroup {
    let mut g = PvGroup::new(prefix);
    // The step period is a setting: access security group TUNING.
    let dt = g.add(Pv::new("dt", 3.0).units("s").access_group("TUNING"));
    let x = g.add(Pv::new("x", 0.0));
    g.on_startup(async move {
        let mut rng = Rng::from_time();
        loop {
            let next = x.value().as_f64().unwrap_or(0.0) + 2.0 * rng.next_f64() - 1.0;
            let _ = x.post(next);
            let secs = dt.value().as_f64().unwrap_or(1.0).clamp(0.001, 3600.0);
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        }
    });
    g
}
