//! Example IOCs served by `caproto-ioc`, each a few dozen lines on top of the
//! [`crate::server`] PV-hosting API. They mirror caproto's `ioc_examples`
//! (same PV names, types and initial values where caproto has the example).

mod chirp;
pub mod defaultdict;
mod random_walk;
mod simple;
mod thermo;
mod ticker;
mod type_varieties;

use crate::server::PvGroup;

/// Knobs an example may use (ignored by those that have no use for them).
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleOptions {
    /// Update rate in Hz for fast updaters (`ticker`), or the ramp factor's
    /// reference for `chirp`.
    pub rate: f64,
}

impl Default for ExampleOptions {
    fn default() -> Self {
        ExampleOptions { rate: 1000.0 }
    }
}

/// One runnable example.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// Name on the command line.
    pub name: &'static str,
    /// Prefix used when `--prefix` is not given.
    pub default_prefix: &'static str,
    /// One-line description for `--list`.
    pub summary: &'static str,
    /// Build the PV group (startup tasks run once the server does).
    pub build: fn(prefix: &str, options: &ExampleOptions) -> PvGroup,
}

/// Every example, in `--list` order.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "simple",
        default_prefix: "simple:",
        summary: "three read/write PVs: A (int 1), B (float 2.0), C (int array [1, 2, 3])",
        build: simple::build,
    },
    Example {
        name: "random_walk",
        default_prefix: "random_walk:",
        summary: "x takes a random step every dt seconds (dt writable, default 3)",
        build: random_walk::build,
    },
    Example {
        name: "type_varieties",
        default_prefix: "type_varieties:",
        summary:
            "one PV per native type, scalar and array, enums, strings, read-only, an ai-like PV",
        build: type_varieties::build,
    },
    Example {
        name: "thermo",
        default_prefix: "thermo:",
        summary: "a damped oscillating temperature I approaching the setpoint SP at 10 Hz",
        build: thermo::build,
    },
    Example {
        name: "chirp",
        default_prefix: "chirp:",
        summary: "chirp updates ever faster (period x0.75 each step); steady counts at 10 Hz",
        build: chirp::build,
    },
    Example {
        name: "ticker",
        default_prefix: "ticker:",
        summary: "count and wave update at --rate Hz (writable via rate) for monitor load tests",
        build: ticker::build,
    },
];

/// Look an example up by name.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_builds_with_its_prefix() {
        for ex in EXAMPLES {
            let g = (ex.build)(ex.default_prefix, &ExampleOptions::default());
            assert!(!g.pvs().is_empty(), "{}", ex.name);
            for pv in g.pvs() {
                assert!(pv.name().starts_with(ex.default_prefix), "{}", pv.name());
            }
        }
        assert!(find("simple").is_some());
        assert!(find("nope").is_none());
    }
}
