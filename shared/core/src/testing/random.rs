//! Randomness a test can repeat.

use crate::ports::Random;
use std::sync::Mutex;

/// The same bytes for the same seed on every run (SplitMix64); never for production.
#[derive(Debug)]
pub struct SeededRandom(Mutex<u64>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(Mutex::new(seed))
    }

    fn next(&self) -> u64 {
        let mut state = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Every byte the same: `FixedRandom(0xFF)` makes every backoff jitter its ceiling,
/// `FixedRandom(0)` makes it zero.
#[derive(Debug, Clone, Copy)]
pub struct FixedRandom(pub u8);

impl Random for FixedRandom {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::SeededRandom;
    use crate::ports::random::bytes;

    #[test]
    fn a_seed_repeats_and_bytes_differ() {
        let (a, b) = (SeededRandom::new(7), SeededRandom::new(7));
        let first: [u8; 13] = bytes(&a);
        assert_eq!(first, bytes::<13>(&b));
        assert_ne!(bytes::<13>(&a), first);
    }
}
