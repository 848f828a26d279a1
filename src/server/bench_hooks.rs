//! A server circuit driven without sockets, so `benches/server_requests.rs`
//! can measure the per-request cost of the request path (decode, validate,
//! answer, encode) apart from the kernel and the runtime. Not a public API.

use super::circuit_task::Circuit;
use super::pv::PvDatabase;

/// One circuit of a server hosting `db`, fed request bytes directly.
pub struct CircuitBench {
    circuit: Circuit,
    runtime: tokio::runtime::Runtime,
}

impl CircuitBench {
    /// A circuit as if a client at 127.0.0.1:40000 had just connected.
    pub fn new(db: PvDatabase) -> CircuitBench {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime needs no resources");
        CircuitBench {
            circuit: Circuit::detached(db),
            runtime,
        }
    }

    /// Handle `requests` as one socket read, as the circuit task does, and
    /// return the bytes of the answers (the output buffer is then emptied).
    pub fn feed(&mut self, requests: &[u8]) -> usize {
        let c = &mut self.circuit;
        let _ = self.runtime.block_on(c.process(requests));
        c.flush();
        c.drain_events();
        c.flush();
        c.take_output()
    }
}
