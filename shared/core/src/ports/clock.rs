use super::{BoxFuture, MaybeSend, MaybeSync};
use std::time::Duration;
use time::OffsetDateTime;

/// Wall-clock time and timers. On wasm32 `SystemTime::now()` panics and there is no
/// tokio, so time and waiting always come from here.
pub trait Clock: MaybeSend + MaybeSync {
    fn now(&self) -> OffsetDateTime;

    /// A future that completes after `duration` (timeouts, backoff, polling).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    fn now_unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}
