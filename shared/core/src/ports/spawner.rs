use super::{BoxFuture, MaybeSend, MaybeSync};

/// Runs work that must outlive the request future: a chat reply keeps being saved
/// after its client disconnects. Lambda and the local server use tokio; Workers use
/// `waitUntil`.
pub trait Spawner: MaybeSend + MaybeSync {
    fn spawn(&self, task: BoxFuture<'static, ()>);

    /// Runs CPU-heavy work (password hashing) away from the threads that serve
    /// requests, where the runtime has a pool for it; by default in place (a Worker
    /// isolate has one thread, and its CPU time is per request anyway).
    fn run_blocking(&self, work: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()> {
        work();
        Box::pin(async {})
    }
}

/// `work`'s result, computed by [`Spawner::run_blocking`]; `None` if it panicked.
pub async fn blocking<T: Send + 'static>(
    spawner: &dyn Spawner,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = futures::channel::oneshot::channel();
    spawner
        .run_blocking(Box::new(move || {
            let _ = tx.send(work());
        }))
        .await;
    rx.await.ok()
}
