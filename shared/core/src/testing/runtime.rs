//! A spawner whose tasks the test runs, and [`run`], which runs them on the calling
//! thread with the manual clock: the same interleaving and timings on every run.

use super::ManualClock;
use crate::ports::{BoxFuture, Spawner};
use futures::task::{ArcWake, waker};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Keeps what is spawned until [`run`] runs it.
#[derive(Default)]
pub struct Tasks(Mutex<Vec<BoxFuture<'static, ()>>>);

impl Tasks {
    fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut *self.lock())
    }

    /// Puts back the tasks still running; true when new ones were spawned meanwhile.
    fn put_back(&self, running: Vec<BoxFuture<'static, ()>>) -> bool {
        let mut tasks = self.lock();
        let spawned = !tasks.is_empty();
        tasks.splice(0..0, running);
        spawned
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BoxFuture<'static, ()>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Spawner for Tasks {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.lock().push(task);
    }
}

/// Set by any wake: something can make progress.
#[derive(Default)]
struct Woken(AtomicBool);

impl ArcWake for Woken {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `main`, and every task spawned on `tasks`, until all are done; returns `main`'s
/// output. When every one of them waits, the clock moves to the next timer; with no
/// timer either, nothing could ever move on, and it panics rather than hang the test.
pub fn run<T>(clock: &ManualClock, tasks: &Tasks, main: impl Future<Output = T>) -> T {
    let woken = Arc::new(Woken::default());
    let waker = waker(woken.clone());
    let mut cx = Context::from_waker(&waker);
    let mut main = std::pin::pin!(main);
    let mut output = None;
    loop {
        woken.0.store(false, Ordering::SeqCst);
        if output.is_none()
            && let Poll::Ready(value) = main.as_mut().poll(&mut cx)
        {
            output = Some(value);
        }
        let mut running = tasks.take();
        running.retain_mut(|task| task.as_mut().poll(&mut cx).is_pending());
        let spawned = tasks.put_back(running);
        if let Some(value) = output.take_if(|_| tasks.is_empty()) {
            return value;
        }
        let idle = !spawned && !woken.0.load(Ordering::SeqCst);
        if idle && !clock.advance_to_next_timer() {
            panic!("every task waits and no timer is set: the test would hang");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Tasks, run};
    use crate::ports::{Clock, Spawner};
    use crate::testing::ManualClock;
    use futures::channel::oneshot;
    use std::time::Duration;

    #[test]
    fn spawned_tasks_run_to_the_end_and_time_moves_when_all_wait() {
        let (clock, tasks) = (ManualClock::at(1_000), Tasks::default());
        let (tx, rx) = oneshot::channel();
        let sleeper = clock.clone();
        tasks.spawn(Box::pin(async move {
            sleeper.sleep(Duration::from_secs(30)).await;
            let _ = tx.send(sleeper.now_unix());
        }));
        assert_eq!(run(&clock, &tasks, rx), Ok(1_030));
        let late = clock.clone();
        tasks.spawn(Box::pin(async move { late.sleep(Duration::from_secs(5)).await }));
        run(&clock, &tasks, async {});
        assert_eq!(clock.now_unix(), 1_035, "run waits for spawned tasks");
    }

    #[test]
    #[should_panic(expected = "no timer is set")]
    fn waiting_forever_panics() {
        let (clock, tasks) = (ManualClock::at(1_000), Tasks::default());
        run(&clock, &tasks, futures::future::pending::<()>());
    }
}
