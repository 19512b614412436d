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

pub use record::{Provider, RecordedRequest, Seen, SeenCall, SeenImage, SeenResult, SeenTool};
pub use scenario::{ANY_MODEL, Fault, FaultStep, Scenario, ToolCall};
pub use server::{MockHandle, MockProvider, MockProviderBuilder};
