//! The host's clock, randomness and task runner.

use confab_core::ports::{BoxFuture, Clock, Random, Spawner};
use std::time::Duration;
use time::OffsetDateTime;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Spawns onto the tokio runtime the request is served on.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        tokio::spawn(task);
    }

    fn run_blocking(&self, work: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()> {
        // A panic in `work` drops its result sender, which the core reports.
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(work).await;
        })
    }
}

/// The operating system's CSPRNG (`getrandom(2)` and its equivalents).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // `Random::fill` can't report errors, and carrying on with predictable bytes
        // would be a security hole, so a failing OS source has to stop the program.
        if let Err(e) = getrandom::getrandom(buf) {
            panic!("the operating system's random source failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_near_system_time() {
        let std_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        assert!((SystemClock.now_unix() - std_now).abs() <= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn sleep_waits_for_the_duration() {
        let before = tokio::time::Instant::now();
        SystemClock.sleep(Duration::from_secs(5)).await;
        assert!(before.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test]
    async fn spawned_tasks_run() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        TokioSpawner.spawn(Box::pin(async move {
            let _ = tx.send(42);
        }));
        assert_eq!(rx.await.unwrap(), 42);
    }

    #[tokio::test]
    async fn blocking_work_runs_off_the_request_thread() {
        let request_thread = std::thread::current().id();
        let work = || (std::thread::current().id(), 6 * 7);
        let (thread, answer) = confab_core::ports::spawner::blocking(&TokioSpawner, work).await.unwrap();
        assert_eq!(answer, 42);
        assert_ne!(thread, request_thread, "hashing a password must not hold up other requests");
    }

    #[test]
    fn random_bytes_differ() {
        let a: [u8; 32] = confab_core::ports::random::bytes(&OsRandom);
        let b: [u8; 32] = confab_core::ports::random::bytes(&OsRandom);
        assert_ne!(a, b);
        let mut empty = [];
        OsRandom.fill(&mut empty);
    }
}
