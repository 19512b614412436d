use super::{MaybeSend, MaybeSync};
use crate::metrics::Event;

/// Where each metrics event goes as a log line, besides the instance's registry: EMF on
/// Lambda, JSON on Workers (formatted by [`crate::metrics::lines`]). Must not block.
pub trait MetricsSink: MaybeSend + MaybeSync {
    fn emit(&self, event: &Event<'_>);
}
