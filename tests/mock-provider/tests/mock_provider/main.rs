//! The mock provider over HTTP: one test binary, a module per wire format and feature.

mod anthropic;
mod bedrock;
mod common;
mod control;
mod embeddings;
mod faults;
mod gemini;
mod openai;
mod timing;
mod tools;
