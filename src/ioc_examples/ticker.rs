//! `ticker`: a fixed-rate updater for monitor load. `count` increments and
//! `wave` (100 doubles) shifts phase at `rate` Hz (from `--rate`, writable
//! at run time). Updates due within one timer tick are posted together, so
//! rates above the 1 kHz timer resolution are honoured on average.

use std::time::{Duration, Instant};

use super::ExampleOptions;
use crate::server::{PutError, Pv, PvGroup, ValueExt};

/// Elements in `wave`.
const WAVE_LEN: usize = 100;
/// Highest accepted rate.
const MAX_RATE: f64 = 1e6;

/// Build the group.
pub fn build(prefix: &str, options: &ExampleOptions) -> PvGroup {
    let mut g = PvGroup::new(prefix);
    let initial = options.rate.clamp(0.0, MAX_RATE);
    let rate = g.add(
        Pv::new("rate", initial)
            .units("Hz")
            // A setting: access security group TUNING.
            .access_group("TUNING")
            .on_put(|_, v| match v.as_f64() {
                Some(r) if (0.0..=MAX_RATE).contains(&r) => Ok(None),
                _ => Err(PutError::OutOfRange(format!(
                    "rate must be within 0..={MAX_RATE}"
                ))),
            }),
    );
    let count = g.add(Pv::new("count", 0i32).read_only());
    let wave = g.add(Pv::new("wave", vec![0.0f64; WAVE_LEN]).read_only());
    g.on_startup(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: i32 = 0;
        let mut credit = 0.0f64;
        let mut last = Instant::now();
        loop {
            tick.tick().await;
            let now = Instant::now();
            let hz = rate.value().as_f64().unwrap_or(0.0);
            credit =
                (credit + hz * now.duration_since(last).as_secs_f64()).min((hz * 0.01).max(1.0));
            last = now;
            while credit >= 1.0 {
                credit -= 1.0;
                n = n.wrapping_add(1);
                let _ = count.post(n);
                let phase = f64::from(n) * 0.1;
                let w: Vec<f64> = (0..WAVE_LEN)
                    .map(|i| (phase + i as f64 * 0.2).sin())
                    .collect();
                let _ = wave.post(w);
            }
        }
    });
    g
}
