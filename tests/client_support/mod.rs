//! Helpers shared by the client integration tests (`tests/client_*.rs`):
//! a client [`Config`] built from a test's [`CaEnv`] without touching the
//! process environment, and bounded waits for subscription updates.
#![allow(dead_code)]

use std::time::Duration;

use caproto::client::{ClientError, Config, Context, Reading, Subscription};

use crate::common::CaEnv;

/// Generous bound for anything a test waits on; never a timing assertion.
pub const WAIT: Duration = Duration::from_secs(20);

/// The client configuration a process started in `env` would read.
pub fn config(env: &CaEnv, use_repeater: bool) -> Config {
    let vars = env.vars();
    let mut cfg = Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .expect("loopback env parses");
    assert_eq!(
        cfg.search_addrs,
        vec![std::net::SocketAddr::from((
            [127, 0, 0, 1],
            env.server_port()
        ))],
        "tests must search on loopback only"
    );
    cfg.use_repeater = use_repeater;
    cfg
}

/// A context on `env` (no repeater).
pub fn context(env: &CaEnv) -> Context {
    Context::new(config(env, false)).expect("context starts")
}

/// The next subscription item, bounded by [`WAIT`].
pub async fn next(sub: &mut Subscription) -> Result<Reading, ClientError> {
    match tokio::time::timeout(WAIT, sub.recv()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("subscription ended"),
        Err(_) => panic!("no subscription update within {WAIT:?}"),
    }
}

/// The next successful update, skipping (and returning) errors seen on the way.
pub async fn next_ok(sub: &mut Subscription) -> (Reading, Vec<ClientError>) {
    let mut errors = Vec::new();
    loop {
        match next(sub).await {
            Ok(r) => return (r, errors),
            Err(e) => errors.push(e),
        }
    }
}

/// A scalar numeric reading as f64.
pub fn scalar(r: &Reading) -> f64 {
    use caproto::proto::dbr::Value;
    match &r.value {
        Value::Double(v) => v[0],
        Value::Float(v) => f64::from(v[0]),
        Value::Long(v) => f64::from(v[0]),
        Value::Short(v) => f64::from(v[0]),
        Value::Enum(v) => f64::from(v[0]),
        Value::Char(v) => f64::from(v[0]),
        Value::String(v) => v[0].parse().expect("numeric string"),
    }
}
