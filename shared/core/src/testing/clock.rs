//! A clock that moves only when told.

use crate::ports::{BoxFuture, Clock};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use time::OffsetDateTime;

/// A clock that moves only when told: [`set`](ManualClock::set),
/// [`advance`](ManualClock::advance), or [`run`](super::run), which moves it to the
/// next timer when every task waits. A `sleep` completes once the clock reaches its end.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<State>>);

#[derive(Debug)]
struct State {
    now: OffsetDateTime,
    next_id: u64,
    /// The sleeps waiting: their end and the task to wake then.
    timers: BTreeMap<u64, (OffsetDateTime, Waker)>,
}

impl ManualClock {
    /// Stopped at `unix` seconds.
    pub fn at(unix: i64) -> Self {
        let state = State { now: unix_time(unix), next_id: 0, timers: BTreeMap::new() };
        ManualClock(Arc::new(Mutex::new(state)))
    }

    pub fn set(&self, unix: i64) {
        self.move_to(unix_time(unix));
    }

    pub fn advance(&self, by: Duration) {
        let to = self.now() + by;
        self.move_to(to);
    }

    /// Moves to the end of the earliest sleep; false when nothing sleeps.
    pub fn advance_to_next_timer(&self) -> bool {
        let next = self.state().timers.values().map(|(end, _)| *end).min();
        next.map(|end| self.move_to(end.max(self.now()))).is_some()
    }

    fn move_to(&self, to: OffsetDateTime) {
        let mut state = self.state();
        state.now = to;
        let due: Vec<u64> =
            state.timers.iter().filter(|(_, (end, _))| *end <= to).map(|(id, _)| *id).collect();
        for id in due {
            if let Some((_, waker)) = state.timers.remove(&id) {
                waker.wake();
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.state().now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        let end = state.now + duration;
        Box::pin(Sleep { clock: self.clone(), id, end })
    }
}

struct Sleep {
    clock: ManualClock,
    id: u64,
    end: OffsetDateTime,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.clock.state();
        if state.now >= self.end {
            state.timers.remove(&self.id);
            return Poll::Ready(());
        }
        state.timers.insert(self.id, (self.end, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.clock.state().timers.remove(&self.id);
    }
}

fn unix_time(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("a time OffsetDateTime can hold")
}

#[cfg(test)]
mod tests {
    use super::ManualClock;
    use crate::ports::Clock;
    use futures::FutureExt;
    use std::time::Duration;

    #[test]
    fn a_sleep_ends_when_the_clock_reaches_it() {
        let clock = ManualClock::at(1_000);
        let mut sleep = clock.sleep(Duration::from_secs(2));
        assert!((&mut sleep).now_or_never().is_none());
        clock.advance(Duration::from_millis(1_999));
        assert!((&mut sleep).now_or_never().is_none());
        assert!(clock.advance_to_next_timer());
        assert_eq!(clock.now_unix(), 1_002);
        assert!(sleep.now_or_never().is_some());
        assert!(!clock.advance_to_next_timer(), "an ended sleep is no timer");
        assert!(clock.sleep(Duration::ZERO).now_or_never().is_some());
    }

    #[test]
    fn a_dropped_sleep_is_no_timer() {
        let clock = ManualClock::at(1_000);
        let mut sleep = clock.sleep(Duration::from_secs(5));
        assert!((&mut sleep).now_or_never().is_none());
        drop(sleep);
        assert!(!clock.advance_to_next_timer());
        assert_eq!(clock.now_unix(), 1_000);
    }
}
