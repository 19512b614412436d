//! confab's portable core: domain types, the handlers of every function as plain
//! functions from request to response, the middleware chain, and the ports through
//! which it reaches everything outside. No runtime, no cloud SDK: it builds natively
//! and for wasm32-unknown-unknown.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod cache;
pub mod chat;
pub mod config;
pub mod domain;
pub mod error;
pub mod fetch;
pub mod http;
pub mod metrics;
pub mod middleware;
pub mod pdf;
pub mod ports;
#[cfg(test)]
mod properties;
pub mod providers;
pub mod reader;
pub mod repo;
pub mod research;
pub mod routes;
pub mod sigv4;
pub mod sweep;
pub mod trace;
pub mod webapp;
pub mod websearch;

pub use app::{App, Ports};
pub use config::Config;
pub use middleware::{serve, serve_only};
pub use routes::Function;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
