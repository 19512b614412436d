//! Chat: routing a model to providers, fitting the context, and streaming replies.

pub mod context;
