use super::{MaybeSend, MaybeSync};

/// A cryptographically secure random source.
pub trait Random: MaybeSend + MaybeSync {
    fn fill(&self, buf: &mut [u8]);

    fn bytes<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }
}
