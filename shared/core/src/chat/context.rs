//! The context manager: the system prompt plus as much of the branch's history as fits
//! the model's budget, newest messages kept first.

use super::models::ModelRoute;
use crate::providers::{ChatMessage, ChatRequest, ChatRole, Part, ResponseFormat};

/// A cheap token estimate (about four characters per token for English text and
/// code), used where the provider has not reported a real count.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// The estimated input tokens of a request: its system prompt and every message.
pub fn estimate_prompt(req: &ChatRequest) -> u64 {
    let messages: u64 = req.messages.iter().map(estimate_message).sum();
    req.system.as_deref().map_or(0, estimate_tokens) + messages + estimate_tools(req)
}

/// The estimated tokens of one message: its text and its parts.
fn estimate_message(m: &ChatMessage) -> u64 {
    estimate_tokens(&m.content) + m.parts.iter().map(estimate_part).sum::<u64>()
}

/// A flat estimate per image (what providers charge for a mid-size one).
const IMAGE_TOKENS: u64 = 1_000;

fn estimate_json(v: &serde_json::Value) -> u64 {
    estimate_tokens(&v.to_string())
}

fn estimate_part(part: &Part) -> u64 {
    match part {
        Part::Text(t) => estimate_tokens(t),
        Part::Image(_) => IMAGE_TOKENS,
        Part::ToolCall(c) => estimate_tokens(&c.name) + estimate_json(&c.arguments),
        Part::ToolResult(r) => estimate_tokens(&r.content),
    }
}

/// The estimated tokens of what the `/v1` API adds: tools and schemas.
fn estimate_tools(req: &ChatRequest) -> u64 {
    let tools = req.tools.iter().map(|t| {
        estimate_tokens(&t.name)
            + t.description.as_deref().map_or(0, estimate_tokens)
            + estimate_json(&t.parameters)
    });
    let schema = match &req.response_format {
        Some(ResponseFormat::JsonSchema(s)) => estimate_json(&s.schema),
        _ => 0,
    };
    tools.sum::<u64>() + schema
}

/// Tokens left for the prompt: the window minus what the reply may use (a quarter of
/// the window when the model sets no limit).
fn prompt_budget(route: &ModelRoute) -> u64 {
    u64::from(route.context_tokens.saturating_sub(reply_budget(route)))
}

/// Tokens the history may take: the prompt's budget less the system prompt.
pub fn history_budget(system: Option<&str>, route: &ModelRoute) -> u64 {
    prompt_budget(route).saturating_sub(system.map_or(0, estimate_tokens))
}

/// Most tokens a reply may have: the model's limit, else a quarter of its window. The
/// provider is held to it, so the quota's reservation is a true upper bound.
pub fn reply_budget(route: &ModelRoute) -> u32 {
    route.max_output_tokens.unwrap_or(route.context_tokens / 4)
}

/// Builds the request from `history`, oldest first, whose last message is the new
/// user message (always kept, however long). Older messages are dropped first; the
/// kept ones start with a user turn and never repeat a role (providers such as
/// Anthropic and Bedrock require alternation), merging neighbours of one role.
pub fn fit(system: Option<&str>, history: &[ChatMessage], route: &ModelRoute) -> ChatRequest {
    let mut left = history_budget(system, route);
    let mut kept: Vec<&ChatMessage> = Vec::new();
    for (i, message) in history.iter().rev().enumerate() {
        let cost = estimate_message(message);
        if i > 0 && cost > left {
            break;
        }
        left = left.saturating_sub(cost);
        kept.push(message);
    }
    kept.reverse();
    let start = kept.iter().position(|m| m.role == ChatRole::User).unwrap_or(kept.len());
    ChatRequest {
        system: system.map(String::from),
        messages: alternate(&kept[start..]),
        max_tokens: Some(reply_budget(route)),
        ..Default::default()
    }
}

fn alternate(messages: &[&ChatMessage]) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::new();
    for m in messages.iter().filter(|m| !m.content.is_empty() || !m.parts.is_empty()) {
        match out.last_mut() {
            Some(last) if last.role == m.role => merge(last, m),
            _ => out.push((*m).clone()),
        }
    }
    out
}

/// Appends `next` to `last`, keeping the order of their text and parts.
fn merge(last: &mut ChatMessage, next: &ChatMessage) {
    let text = format!("\n\n{}", next.content);
    if last.parts.is_empty() {
        last.content.push_str(&text);
    } else {
        last.parts.push(Part::Text(text));
    }
    last.parts.extend(next.parts.iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::models::seed_from_settings;

    fn msg(role: ChatRole, content: &str) -> ChatMessage {
        ChatMessage::text(role, content)
    }

    fn route(context_tokens: u32) -> ModelRoute {
        let mut r = seed_from_settings(&Default::default()).models.remove(0);
        r.context_tokens = context_tokens;
        r.max_output_tokens = Some(0);
        r
    }

    #[test]
    fn keeps_the_newest_messages_that_fit() {
        let history = [
            msg(ChatRole::User, &"a".repeat(40)),
            msg(ChatRole::Assistant, &"b".repeat(40)),
            msg(ChatRole::User, &"c".repeat(40)),
            msg(ChatRole::Assistant, &"d".repeat(40)),
            msg(ChatRole::User, "last"),
        ];
        // 10 tokens each; a budget of 31 holds the last three (1 + 10 + 10 = 21) but not a fourth.
        let req = fit(None, &history, &route(31));
        let roles: Vec<_> = req.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [ChatRole::User, ChatRole::Assistant, ChatRole::User]);
        assert_eq!(req.messages[0].content, "c".repeat(40));
    }

    #[test]
    fn the_new_message_is_kept_even_when_too_long() {
        let history = [msg(ChatRole::User, &"x".repeat(1000))];
        assert_eq!(fit(Some("be brief"), &history, &route(10)).messages.len(), 1);
    }

    #[test]
    fn starts_with_a_user_turn_and_merges_repeated_roles() {
        let history = [
            msg(ChatRole::Assistant, "orphan"),
            msg(ChatRole::User, "first try"),
            msg(ChatRole::User, "second try"),
        ];
        let req = fit(None, &history, &route(8192));
        assert_eq!(req.messages, [msg(ChatRole::User, "first try\n\nsecond try")]);
    }

    #[test]
    fn merged_turns_keep_their_images_in_order() {
        let image = Part::Image(crate::providers::Image {
            url: Some("https://example.com/a.png".into()),
            data: None,
        });
        let with_image = ChatMessage { parts: vec![image.clone()], ..msg(ChatRole::User, "see") };
        let history = [with_image.clone(), msg(ChatRole::User, "and this"), with_image];
        let req = fit(None, &history, &route(8192));
        let merged = &req.messages[0];
        assert_eq!(merged.content, "see");
        assert_eq!(
            merged.parts,
            [image.clone(), Part::Text("\n\nand this".into()), Part::Text("\n\nsee".into()), image]
        );
        assert_eq!(estimate_message(merged), 1 + 2 * IMAGE_TOKENS + 3 + 2);
    }
}
