//! Chat: routing a model to providers, fitting the context, and streaming replies.

pub mod breaker;
pub mod cache;
pub mod context;
pub mod embeddings;
pub mod files;
pub mod lease;
pub mod models;
pub mod quota;
pub mod resume;
pub mod router;
pub mod sse;
pub mod title;
pub mod turn;

#[cfg(test)]
pub(crate) mod fixtures;
