//! A tiny xorshift generator for the simulations (no need for a crypto RNG
//! or a dependency to make a random walk).

use std::time::{SystemTime, UNIX_EPOCH};

/// xorshift64* state.
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from the clock.
    pub fn from_time() -> Rng {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Rng(t | 1)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
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
