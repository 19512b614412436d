#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod anthropic;
mod bedrock;
mod control;
mod delivery;
mod dialect;
mod embeddings;
mod eventstream;
mod gemini;
mod openai;
mod plan;
mod record;
mod scenario;
mod server;
mod sigv4;

pub use record::{Provider, RecordedRequest};
pub use scenario::{ANY_MODEL, Fault, FaultStep, Scenario};
pub use server::{MockHandle, MockProvider, MockProviderBuilder};
