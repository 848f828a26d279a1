//! The shell half of `CALC` rules: a task that follows the `INP` PVs of the
//! rules in force with a Channel Access client, as an IOC's asCa task does,
//! and records each reading in the rules ([`AccessControl::set_input`]).
//!
//! Each input is subscribed as DBR_STS_DOUBLE. A value with INVALID
//! severity, a lost connection or a refused read makes the input bad. When
//! another file is loaded the subscriptions are dropped and those of the new
//! file made. The PVs may be on this server or any other the client's
//! configuration (`EPICS_CA_ADDR_LIST` ...) reaches.

use std::sync::Arc;

use crate::client::{Config, Context};
use crate::proto::command::mask;
use crate::proto::dbr::{DbrClass, DbrType, NativeType};
use crate::proto::status::AlarmSeverity;
use crate::server::ValueExt;

use super::control::AccessControl;
use super::rules::AccessRules;
use super::ACCESS_TARGET;

/// Follow the inputs of whatever rules `control` holds, until the runtime
/// ends. [`crate::server::Server`] runs it; call it yourself only when
/// using [`AccessControl`] without that server.
pub async fn follow_inputs(control: AccessControl) {
    let mut rx = control.subscribe();
    loop {
        let rules = rx.borrow_and_update().clone();
        let generation = rules.as_ref().map(|r| r.generation());
        let watcher = rules
            .filter(|r| !r.inputs().is_empty())
            .map(|r| tokio::spawn(watch_inputs(control.clone(), r)));
        // Only a new file (not a new input reading) changes the generation.
        loop {
            if rx.changed().await.is_err() {
                if let Some(w) = watcher {
                    w.abort();
                }
                return;
            }
            if rx.borrow().as_ref().map(|r| r.generation()) != generation {
                break;
            }
        }
        if let Some(w) = watcher {
            w.abort();
        }
    }
}

async fn watch_inputs(control: AccessControl, rules: Arc<AccessRules>) {
    let ctx = match Config::from_env().and_then(Context::new) {
        Ok(ctx) => ctx,
        Err(e) => {
            tracing::error!(target: ACCESS_TARGET,
                "cannot start the client for ACF INP links ({e}); CALC rules reading them stay off");
            return;
        }
    };
    let generation = rules.generation();
    let mut tasks = tokio::task::JoinSet::new();
    for input in rules.inputs() {
        let channel = match ctx.channel(&input.pv) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target: ACCESS_TARGET, pv = %input.pv,
                    "ASG {} INP{}: {e}; it stays bad", input.group, input.letter);
                continue;
            }
        };
        let dbr = DbrType::Value(DbrClass::Sts, NativeType::Double);
        let mut sub = channel.subscribe(dbr, Some(1), mask::VALUE | mask::ALARM);
        let control = control.clone();
        tasks.spawn(async move {
            while let Some(item) = sub.recv().await {
                let value = match item {
                    Ok(r) if r.meta.severity == AlarmSeverity::INVALID => None,
                    Ok(r) => r.value.as_f64(),
                    Err(_) => None,
                };
                tracing::debug!(target: ACCESS_TARGET, pv = %input.pv,
                    "ASG {} INP{} = {value:?}", input.group, input.letter);
                control.set_input(generation, &input.group, input.letter, value);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    drop(ctx);
}
