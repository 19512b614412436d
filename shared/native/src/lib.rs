//! confab's native runtime adapters, shared by every native entry point (the local
//! server and the Lambda functions):
//!
//! - [`SystemClock`]: the host's clock, with tokio timers;
//! - [`OsRandom`]: the operating system's CSPRNG;
//! - [`TokioSpawner`]: background tasks on the current tokio runtime;
//! - [`ReqwestClient`]: outbound HTTP with rustls;
//! - [`LogWriter`]: log output that never blocks or panics.

mod http;
mod logging;
mod system;

pub use http::ReqwestClient;
pub use logging::LogWriter;
pub use system::{OsRandom, SystemClock, TokioSpawner};
