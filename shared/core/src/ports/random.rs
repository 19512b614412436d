use super::{MaybeSend, MaybeSync};

/// A cryptographically secure random source.
pub trait Random: MaybeSend + MaybeSync {
    fn fill(&self, buf: &mut [u8]);
}

/// `N` random bytes from `random`.
pub fn bytes<const N: usize>(random: &dyn Random) -> [u8; N] {
    let mut out = [0u8; N];
    random.fill(&mut out);
    out
}
