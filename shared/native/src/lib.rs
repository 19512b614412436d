//! confab's native runtime adapters, shared by every native entry point (the local
//! server and the Lambda functions):
//!
//! - [`SystemClock`]: the host's clock, with tokio timers;
//! - [`OsRandom`]: the operating system's CSPRNG;
//! - [`TokioSpawner`]: background tasks on the current tokio runtime;
//! - [`ReqwestClient`]: outbound HTTP with rustls;
//! - [`LogWriter`]: log output that never blocks or panics;
//! - [`env_settings`]: the `CONFAB_*` settings of the process environment.

mod http;
mod logging;
mod system;

pub use http::ReqwestClient;
pub use logging::LogWriter;
pub use system::{OsRandom, SystemClock, TokioSpawner};

/// The process environment's `CONFAB_*` variables: the settings every native entry
/// point and tool reads.
pub fn env_settings() -> std::collections::BTreeMap<String, String> {
    std::env::vars().filter(|(k, _)| k.starts_with("CONFAB_")).collect()
}
