//! The server's own threads (circuit threads, the search responders'
//! thread): each runs a current-thread runtime of its own, logs to the
//! subscriber the server was started under, and asks for real-time
//! scheduling as an EPICS IOC does when allowed (root, `CAP_SYS_NICE`,
//! `RLIMIT_RTPRIO`): rsrv runs its per-client threads under `SCHED_FIFO` 20
//! and its search responder ("CAS-UDP") at 12, so a request preempts
//! ordinary work the moment it arrives, and a search never delays a served
//! client.

use crate::log::fields::ROLE_SERVER;
use std::future::Future;
use std::io;

/// How far below the circuit threads the search responder runs (rsrv: 8).
pub(crate) const SEARCH_BELOW_CIRCUITS: u8 = 8;

/// Start thread `name` running `task` to completion on a current-thread
/// runtime of its own, under the caller's tracing dispatcher (thread-local
/// default included), and under `SCHED_FIFO` at `priority` when given and
/// allowed (`what` names the thread in the record saying which). Fails if
/// the runtime or the thread cannot be made.
pub(crate) fn spawn_thread(
    name: String,
    what: String,
    priority: Option<u8>,
    task: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::Builder::new().name(name).spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            if let Some(priority) = priority {
                enter(&what, priority);
            }
            runtime.block_on(task)
        })
    })?;
    Ok(())
}

/// Put the calling thread under `SCHED_FIFO` at `priority` (clamped to
/// 1..=99), or say at DEBUG why `what` stays at normal priority (most often:
/// no permission). Returns whether the thread is now real-time.
fn enter(what: &str, priority: u8) -> bool {
    let param = libc::sched_param {
        sched_priority: i32::from(priority.clamp(1, 99)),
    };
    // SAFETY: `pthread_self()` is always a valid handle of the calling
    // thread, and `param` is a live, initialised `sched_param` for the
    // duration of the call, which only reads it.
    let err =
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if err == 0 {
        tracing::debug!(target: "caproto::serv", role = ROLE_SERVER,
            "{what} runs under SCHED_FIFO at priority {}", param.sched_priority);
        true
    } else {
        let why = io::Error::from_raw_os_error(err);
        tracing::debug!(target: "caproto::serv", role = ROLE_SERVER,
            "{what} stays at normal priority (SCHED_FIFO {}: {why})", param.sched_priority);
        false
    }
}

/// The search responder's priority for circuit threads at `circuits`.
pub(crate) fn search_priority(circuits: u8) -> u8 {
    circuits.saturating_sub(SEARCH_BELOW_CIRCUITS).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_priority_stays_below_circuits_and_valid() {
        assert_eq!(search_priority(20), 12);
        assert_eq!(search_priority(9), 1);
        assert_eq!(search_priority(3), 1);
        assert_eq!(search_priority(99), 91);
    }
}
