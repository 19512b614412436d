//! confab on Cloudflare Workers. The four function Workers run the core on the AWS
//! adapters over HTTP (confab-aws-http), sent with the runtime's `fetch`; the edge
//! router Worker checks each request and hands it to a function through a service
//! binding.
//!
//! What decides things is portable and tested natively: the router's checks
//! ([`router`]), the settings ([`settings`]) and the in-flight work count
//! ([`in_flight`]). What touches the runtime builds only for wasm32: the ports
//! (`runtime`), request and response conversion (`convert`) and the two entry points
//! (`function::serve` and `function::sweep`, `edge::route`).

pub mod in_flight;
pub mod router;
pub mod settings;

#[cfg(target_arch = "wasm32")]
mod convert;
#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
mod function;
#[cfg(target_arch = "wasm32")]
mod logging;
#[cfg(target_arch = "wasm32")]
mod runtime;

#[cfg(target_arch = "wasm32")]
pub use edge::route;
#[cfg(target_arch = "wasm32")]
pub use function::{serve, sweep};
#[cfg(target_arch = "wasm32")]
pub use worker;
