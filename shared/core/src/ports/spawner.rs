use super::{BoxFuture, MaybeSend, MaybeSync};

/// Runs work that must outlive the request future: a chat reply keeps being saved
/// after its client disconnects. Lambda and the local server use tokio; Workers use
/// `waitUntil`.
pub trait Spawner: MaybeSend + MaybeSync {
    fn spawn(&self, task: BoxFuture<'static, ()>);
}
