//! Calling one target: its credentials from the secrets port, its wire format, and
//! the HTTP round trip.

use super::{
    BodyStream, ChatRequest, Credentials, EventStream, ProviderError, ProviderKind, Target, WireFormat,
    anthropic, bedrock, check_secret_name, echo, gemini, openai,
};
use crate::app::App;
use crate::trace::traced;

/// Most bytes of an error response that are read to explain it.
const MAX_ERROR_BODY: usize = 64 * 1024;

fn format_of(kind: ProviderKind) -> Option<&'static dyn WireFormat> {
    match kind {
        ProviderKind::Openai => Some(&openai::OpenAi),
        ProviderKind::Anthropic => Some(&anthropic::Anthropic),
        ProviderKind::Gemini => Some(&gemini::Gemini),
        ProviderKind::Bedrock => Some(&bedrock::Bedrock),
        ProviderKind::Echo => None,
    }
}

/// Why `target` cannot honour `req`, naming the field, if it cannot.
pub fn check(target: &Target, req: &ChatRequest) -> Result<(), String> {
    match format_of(target.provider) {
        Some(format) => format.check(req),
        None => echo::check(req),
    }
}

/// Whether `target` takes images only as bytes.
pub fn inline_images(target: &Target) -> bool {
    format_of(target.provider).is_some_and(|f| f.inline_images())
}

/// Asks `target` for a streamed reply. Returns once the provider has accepted the
/// request (status and headers received); the events follow on the stream.
pub async fn stream(app: &App, target: &Target, req: &ChatRequest) -> Result<EventStream, ProviderError> {
    let Some(format) = format_of(target.provider) else { return Ok(echo::reply(req)) };
    let credentials = credentials(app, target).await?;
    let request = format.request(target, &credentials, req, app.clock.now())?;
    let resp = app.http.send(traced(request)).await?;
    if resp.status.is_success() {
        return Ok(format.events(resp.body));
    }
    let body = read_prefix(resp.body, MAX_ERROR_BODY).await;
    Err(format.error(resp.status, &resp.headers, &body))
}

/// The first `max` bytes of `body` (all of it when shorter); a broken body ends it.
pub async fn read_prefix(mut body: BodyStream, max: usize) -> Vec<u8> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        out.extend_from_slice(&chunk[..chunk.len().min(max - out.len())]);
        if out.len() >= max {
            break;
        }
    }
    out
}

/// The target's credentials, read from its secret on every call: the secrets port
/// keeps the value for `CONFAB_SECRETS_CACHE_SECONDS`, so a rotated key is used within
/// that time.
pub(super) async fn credentials(app: &App, target: &Target) -> Result<Credentials, ProviderError> {
    let Some(name) = &target.api_key_secret else { return Ok(Credentials::default()) };
    check_secret_name(name).map_err(ProviderError::Config)?;
    let value = app
        .secrets
        .get(name)
        .await
        .map_err(|e| ProviderError::Connect(e.to_string()))?
        .ok_or_else(|| ProviderError::Config(format!("secret {name} does not exist")))?;
    Ok(match target.provider {
        ProviderKind::Bedrock => {
            let aws = serde_json::from_str(&value)
                .map_err(|_| ProviderError::Config(format!("secret {name} is not AWS credentials JSON")))?;
            Credentials { aws: Some(aws), ..Default::default() }
        }
        _ => Credentials { api_key: Some(value), ..Default::default() },
    })
}
