//! `thermo`: a (poorly) simulated temperature controller. The readback I
//! follows `Tvar * exp(-(t - t0)/K) * sin(omega t) + SP`, updated at 10 Hz;
//! writing SP restarts the transient (t0 = now).
//!
//! Access security groups (for `caproto-ioc --acf`): SP is in `SETPOINT`,
//! the model's constants K, omega and Tvar in `TUNING`, I in `DEFAULT`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ExampleOptions;
use crate::server::{Pv, PvGroup, ValueExt};

/// Build the group.
pub fn build(prefix: &str, _: &ExampleOptions) -> PvGroup {
    let mut g = PvGroup::new(prefix);
    let t0 = Arc::new(Mutex::new(Instant::now()));
    let readback = g.add(
        Pv::new("I", 0.0)
            .read_only()
            .record_type("ai")
            .units("degC")
            .precision(3),
    );
    let reset = Arc::clone(&t0);
    let setpoint = g.add(
        Pv::new("SP", 100.0)
            .units("degC")
            .access_group("SETPOINT")
            .on_put(move |_, _| {
                *crate::sync::lock(&reset) = Instant::now();
                Ok(None)
            }),
    );
    let k = g.add(Pv::new("K", 10.0).access_group("TUNING"));
    let omega = g.add(Pv::new("omega", std::f64::consts::PI).access_group("TUNING"));
    let tvar = g.add(Pv::new("Tvar", 10.0).access_group("TUNING"));
    let start = Instant::now();
    g.on_startup(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let since = crate::sync::lock(&t0).elapsed().as_secs_f64();
            let t = start.elapsed().as_secs_f64();
            let get = |pv: &crate::server::PvHandle| pv.value().as_f64().unwrap_or(0.0);
            let kk = get(&k);
            let decay = if kk != 0.0 { (-since / kk).exp() } else { 0.0 };
            let value = get(&tvar) * decay * (get(&omega) * t).sin() + get(&setpoint);
            let _ = readback.post(value);
        }
    });
    g
}
