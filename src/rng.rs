//! A tiny xorshift64* generator, for the example IOCs' simulations and for
//! deterministic sweeps in tests: no need for a crypto RNG or a dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// xorshift64* state (any non-zero seed).
pub(crate) struct Rng(pub u64);

impl Rng {
    /// Seeded from the clock.
    pub fn from_time() -> Rng {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Rng(t | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// In [0, n) (slightly biased for huge n; fine for tests and simulations).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn in_unit_interval_and_varies() {
        let mut r = super::Rng::from_time();
        let xs: Vec<f64> = (0..100).map(|_| r.next_f64()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.windows(2).any(|w| w[0] != w[1]));
    }
}
