//! confab's portable core. See the README for the architecture.

pub mod ports;

#[cfg(feature = "conformance")]
pub mod conformance;
