//! The provider wire formats against canned wire bytes: the requests they build, the
//! events they read from streamed replies (however the bytes are chunked), and the
//! errors they map. No network. One module per format; what every format must do is
//! [`wire_format_tests!`], run by each.

#[macro_use]
mod common;

mod anthropic;
mod bedrock;
mod gemini;
mod openai;
