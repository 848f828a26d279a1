//! `chirp`: one PV updates at a steady 10 Hz, another "chirps": its update
//! period shrinks by a factor 0.75 after each update, from 0.5 s down to the
//! timer's resolution, then starts over. Shows how fast a client keeps up.

use std::time::Duration;

use super::ExampleOptions;
use crate::server::{Pv, PvGroup, ValueExt};

/// Ramp factor applied to the period after each chirp update.
const RAMP: f64 = 0.75;

/// Build the group.
pub fn build(prefix: &str, _: &ExampleOptions) -> PvGroup {
    let mut g = PvGroup::new(prefix);
    let chirp = g.add(Pv::new("chirp", 0.0).read_only());
    let steady = g.add(Pv::new("steady", 0i32).read_only());
    g.on_startup(async move {
        let mut period = 0.5f64;
        let mut value = 0.0;
        loop {
            let _ = chirp.post(value);
            tokio::time::sleep(Duration::from_secs_f64(period)).await;
            period *= RAMP;
            value += 1.0;
            if period < 1e-4 {
                period = 0.5;
                value = 0.0;
            }
        }
    });
    g.on_startup(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let next = (steady.value().as_f64().unwrap_or(0.0) as i32 + 1) % 1000;
            let _ = steady.post(next);
        }
    });
    g
}
