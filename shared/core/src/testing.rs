//! Test support (feature `testing`, and the core's own unit tests): ports that tests
//! drive by hand.

use crate::ports::{BoxFuture, Clock};
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

/// A clock that moves only when told: [`set`](ManualClock::set), [`advance`](ManualClock::advance),
/// or a `sleep`, which advances it by the duration and completes at once.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// Stopped at `unix` seconds.
    pub fn at(unix: i64) -> Self {
        ManualClock(Mutex::new(unix_time(unix)))
    }

    pub fn set(&self, unix: i64) {
        *self.now_mut() = unix_time(unix);
    }

    pub fn advance(&self, by: Duration) {
        *self.now_mut() += by;
    }

    fn now_mut(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now_mut()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

fn unix_time(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("a time OffsetDateTime can hold")
}
