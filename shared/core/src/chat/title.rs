//! Automatic titles: once the first reply of a session named after its first message
//! is complete, the model (`CONFAB_TITLE_MODEL`, else the turn's) is asked for a short
//! title (never the built-in `echo`, which would only repeat it). It runs at the end of the reply's producer, after the client's stream ended,
//! bounded in tokens and time; its usage counts to the user. A title the user set in the
//! meantime is never replaced, and any failure keeps the derived title.

use super::context::{estimate_prompt, estimate_tokens};
use super::models::{ModelKind, ModelRoute};
use super::quota;
use super::router::{self, timeout};
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::providers::{ChatMessage, ChatRequest, ChatRole, ProviderEvent, ProviderKind, Usage};
use crate::repo::{routing, search, sessions};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Longest title, in characters.
pub const MAX_CHARS: usize = 80;
/// Most tokens the model may answer with.
const MAX_TOKENS: u32 = 24;
/// Longest wait for the whole title.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Characters of the question and of the reply the model is shown.
const EXCERPT_CHARS: usize = 2_000;
const INSTRUCTION: &str = "Write a title of at most six words for the conversation below, \
    in its language. Answer with the title only, without quotes.";

/// Asks for a title and saves it in place of the derived one; failures are logged.
pub async fn name(
    app: &Arc<App>,
    user_id: Id,
    session_id: Id,
    turn_route: &ModelRoute,
    asked: &str,
    said: &str,
) {
    if let Err(e) = retitle(app, user_id, session_id, turn_route, asked, said).await {
        tracing::warn!(error = %e, session_id = %session_id, "no title could be generated; the derived one stays");
    }
}

async fn retitle(
    app: &Arc<App>,
    user_id: Id,
    session_id: Id,
    turn_route: &ModelRoute,
    asked: &str,
    said: &str,
) -> ApiResult<()> {
    let route = match &app.config.title_model {
        Some(name) if *name != turn_route.name => {
            routing::load(app).await?.route_of_kind(name, ModelKind::Chat)?.clone()
        }
        _ => turn_route.clone(),
    };
    // The built-in echo model would only repeat the conversation back.
    if route.targets.iter().all(|t| t.provider == ProviderKind::Echo) {
        return Ok(());
    }
    let request = request(asked, said);
    let (text, usage) = timeout(&*app.clock, TIMEOUT, ask(app, &route, &request))
        .await
        .ok_or_else(|| ApiError::Unavailable("the title took too long".into()))??;
    quota::count(app, user_id, &route.name, usage).await?;
    let title = clean(&text).ok_or_else(|| ApiError::Unavailable(format!("an unusable title: {text:?}")))?;
    if let Some(owned) = sessions::retitle(app, session_id, &title).await? {
        search::index_title(app, &owned).await;
    }
    Ok(())
}

fn request(asked: &str, said: &str) -> ChatRequest {
    let excerpt = |text: &str| text.chars().take(EXCERPT_CHARS).collect::<String>();
    let conversation = format!("User: {}\n\nAssistant: {}", excerpt(asked), excerpt(said));
    ChatRequest {
        system: Some(INSTRUCTION.into()),
        messages: vec![ChatMessage::text(ChatRole::User, conversation)],
        max_tokens: Some(MAX_TOKENS),
        ..Default::default()
    }
}

/// The model's whole answer and its usage (estimated when the provider gives none).
pub(crate) async fn ask(app: &App, route: &ModelRoute, request: &ChatRequest) -> ApiResult<(String, Usage)> {
    ask_streaming(app, route, request, |_| {}).await
}

/// [`ask`], handing each piece of text to `on_text` as it arrives.
pub(crate) async fn ask_streaming(
    app: &App,
    route: &ModelRoute,
    request: &ChatRequest,
    mut on_text: impl FnMut(&str),
) -> ApiResult<(String, Usage)> {
    let opened = router::open(app, route, request).await.map_err(ApiError::Upstream)?;
    let mut events = futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest);
    let (mut text, mut usage) = (String::new(), None);
    while let Some(event) = events.next().await {
        match event.map_err(ApiError::Upstream)? {
            ProviderEvent::Text(t) => {
                on_text(&t);
                text.push_str(&t);
            }
            ProviderEvent::Usage(u) => usage = Some(u),
            // Titles and research offer no tools; a call would be the model's mistake.
            ProviderEvent::Finish(_) | ProviderEvent::ToolCall(_) => {}
        }
    }
    let usage = usage.unwrap_or_else(|| Usage {
        input_tokens: estimate_prompt(request),
        output_tokens: estimate_tokens(&text),
    });
    Ok((text, usage))
}

/// The model's answer as a title: its first line, without a `Title:` label, quotes,
/// control characters or a final full stop, cut at a word to [`MAX_CHARS`].
pub fn clean(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = strip_label(line);
    let quotes = |c: char| matches!(c, '"' | '\'' | '`' | '*' | '“' | '”' | '‘' | '’' | '«' | '»' | '#');
    let line = line.trim_matches(|c: char| quotes(c) || c.is_whitespace()).trim_end_matches('.');
    let words: Vec<&str> =
        line.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let title = shorten(&words.join(" "), MAX_CHARS);
    (!title.is_empty()).then_some(title)
}

fn strip_label(line: &str) -> &str {
    match line.split_once(':') {
        Some((label, rest)) if label.trim().eq_ignore_ascii_case("title") => rest.trim(),
        _ => line,
    }
}

/// `line` in at most `max` characters: cut at a word, with an ellipsis, when longer.
pub fn shorten(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    let words = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", words.trim_end())
}

#[cfg(test)]
mod tests {
    use super::{MAX_CHARS, clean, shorten};

    #[test]
    fn answers_become_one_short_line() {
        assert_eq!(clean("\"Paris trip plans.\"\nmore").as_deref(), Some("Paris trip plans"));
        assert_eq!(clean("  Title: **Rust lifetimes**  ").as_deref(), Some("Rust lifetimes"));
        assert_eq!(clean("“Bonjour”").as_deref(), Some("Bonjour"));
        assert_eq!(clean("a\tb\u{7}c").as_deref(), Some("a b c"));
        assert_eq!(clean(" \n \"\" \n"), None);
        let long = clean(&"word ".repeat(40)).unwrap();
        assert!(long.chars().count() <= MAX_CHARS && long.ends_with('…'), "{long}");
    }

    #[test]
    fn shortening_cuts_at_a_word() {
        assert_eq!(shorten("short", 80), "short");
        assert_eq!(shorten("one two three", 10), "one two…");
        assert_eq!(shorten(&"x".repeat(100), 10).chars().count(), 10);
    }
}
