//! The built-in `echo` model: replies with the last user message, word by word, so a
//! fresh deployment with no provider configured still streams real replies.

use super::{ChatRequest, ChatRole, EventStream, FinishReason, ProviderEvent, ResponseFormat, Usage};
use crate::chat::context::estimate_prompt;

/// Echo repeats text: it cannot call tools, see images or shape its reply.
pub fn check(req: &ChatRequest) -> Result<(), String> {
    let shaped = req.response_format.as_ref().is_some_and(|f| *f != ResponseFormat::Text);
    let refused = [
        (!req.tools.is_empty(), "tools"),
        (req.images().next().is_some(), "image_url"),
        (shaped, "response_format"),
    ];
    match refused.into_iter().find(|(refused, _)| *refused) {
        Some((_, field)) => Err(format!("{field} is not supported by the echo model")),
        None => Ok(()),
    }
}

pub fn reply(req: &ChatRequest) -> EventStream {
    let last =
        req.messages.iter().rev().find(|m| m.role == ChatRole::User).map_or("", |m| m.content.as_str());
    let words = split_keeping_spaces(last);
    let usage = Usage { input_tokens: estimate_prompt(req), output_tokens: words.len() as u64 };
    let events = words
        .into_iter()
        .map(ProviderEvent::Text)
        .chain([ProviderEvent::Usage(usage), ProviderEvent::Finish(FinishReason::Stop)])
        .map(Ok);
    Box::pin(futures::stream::iter(events))
}

/// Words with their following whitespace, so the pieces concatenate to the input.
fn split_keeping_spaces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if !c.is_whitespace() && current.ends_with(char::is_whitespace) {
            out.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ChatMessage;
    use futures::StreamExt;

    #[test]
    fn pieces_concatenate_to_the_input() {
        let words = split_keeping_spaces("hello  wide\nworld ");
        assert_eq!(words, ["hello  ", "wide\n", "world "]);
        assert!(split_keeping_spaces("").is_empty());
    }

    #[test]
    fn replies_with_the_last_user_message() {
        let req = ChatRequest {
            messages: vec![ChatMessage::text(ChatRole::User, "say this back")],
            ..Default::default()
        };
        let events: Vec<_> = futures::executor::block_on(reply(&req).collect());
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                Ok(ProviderEvent::Text(t)) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "say this back");
        assert_eq!(events.last(), Some(&Ok(ProviderEvent::Finish(FinishReason::Stop))));
    }
}
