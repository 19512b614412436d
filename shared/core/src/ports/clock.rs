use super::{MaybeSend, MaybeSync};
use time::OffsetDateTime;

/// Wall-clock time. On wasm32 `SystemTime::now()` panics, so time always comes from here.
pub trait Clock: MaybeSend + MaybeSync {
    fn now(&self) -> OffsetDateTime;

    fn now_unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}
