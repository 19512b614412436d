//! The context manager: the system prompt plus as much recent history as fits the
//! model's budget.

/// A cheap token estimate (about four characters per token for English text and
/// code), used where the provider has not reported a real count.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}
