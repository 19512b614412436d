//! Embeddings. Each wire format that has them lives in its own module and turns one
//! batch of inputs into one HTTP request and the reply into vectors; [`call`] sends a
//! batch to one target. Batching, fallback and usage are the chat engine's
//! (`chat::embeddings`).

mod bedrock;
mod gemini;
mod openai;

use super::{Credentials, ProviderError, ProviderKind, Target, call::credentials};
use crate::app::App;
use crate::ports::{MaybeSend, MaybeSync};
use crate::trace::traced;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Most bytes of a reply read: 2048 inputs of 3072 dimensions as JSON numbers fit.
const MAX_REPLY_BYTES: usize = 128 * 1024 * 1024;

/// One input: text, or token ids (which only OpenAI-compatible targets take).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Tokens(Vec<u32>),
}

impl Input {
    /// Its tokens as far as they can be known before a provider counts them: a token
    /// id each, or about four characters each.
    pub fn estimated_tokens(&self) -> u64 {
        match self {
            Input::Text(t) => t.chars().count().div_ceil(4) as u64,
            Input::Tokens(ids) => ids.len() as u64,
        }
    }
}

/// How vectors travel: JSON numbers, or base64 of little-endian `f32`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Float,
    Base64,
}

/// A provider-neutral embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedRequest {
    pub inputs: Vec<Input>,
    pub dimensions: Option<u32>,
    /// The end user, for providers that watch for abuse per user.
    pub user: Option<String>,
    /// What the client wants; an OpenAI-compatible target is asked for the same.
    pub encoding: Encoding,
}

/// One batch's vectors, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    /// The provider's count of the batch's tokens, when it gives one.
    pub prompt_tokens: Option<u64>,
}

/// One provider's embeddings API.
trait Format: MaybeSend + MaybeSync {
    /// Most inputs one call may carry.
    fn batch_size(&self) -> usize;

    /// Why the target cannot take `req`, if it cannot: token inputs, dimensions it has
    /// not, inputs longer than it reads.
    fn check(&self, req: &EmbedRequest) -> Result<(), String>;

    /// The HTTP request for `batch`, a slice of `req.inputs`.
    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &EmbedRequest,
        batch: &[Input],
        now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError>;

    /// The vectors of a successful reply.
    fn read(&self, headers: &HeaderMap, body: &[u8]) -> Result<Embedded, ProviderError>;

    /// The error an unsuccessful reply stands for.
    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError;
}

fn format_of(target: &Target) -> Result<&'static dyn Format, String> {
    match target.provider {
        ProviderKind::Openai => Ok(&openai::OpenAi),
        ProviderKind::Gemini => Ok(&gemini::Gemini),
        ProviderKind::Bedrock => bedrock::format_of(&target.model),
        ProviderKind::Anthropic | ProviderKind::Echo => {
            Err(format!("{:?} targets have no embeddings", target.provider))
        }
    }
}

/// Whether `target` can serve embeddings at all (what an embedding model's targets
/// must pass).
pub fn supports(target: &Target) -> Result<(), String> {
    format_of(target).map(|_| ())
}

/// Why `target` cannot take `req`, if it cannot.
pub fn check(target: &Target, req: &EmbedRequest) -> Result<(), String> {
    format_of(target)?.check(req)
}

/// Most inputs one call to `target` may carry.
pub fn batch_size(target: &Target) -> Result<usize, ProviderError> {
    Ok(format_of(target).map_err(ProviderError::Config)?.batch_size())
}

/// Asks `target` for the vectors of `batch`, a slice of `req.inputs`.
pub async fn call(
    app: &App,
    target: &Target,
    req: &EmbedRequest,
    batch: &[Input],
) -> Result<Embedded, ProviderError> {
    let format = format_of(target).map_err(ProviderError::Config)?;
    let credentials = credentials(app, target).await?;
    let request = format.request(target, &credentials, req, batch, app.clock.now())?;
    let resp = app.http.send(traced(request)).await?;
    let body = read_all(resp.body).await?;
    if !resp.status.is_success() {
        return Err(format.error(resp.status, &resp.headers, &body));
    }
    let embedded = format.read(&resp.headers, &body)?;
    if embedded.vectors.len() != batch.len() {
        return Err(ProviderError::Protocol(format!(
            "{} vectors for {} inputs",
            embedded.vectors.len(),
            batch.len()
        )));
    }
    Ok(embedded)
}

async fn read_all(mut body: super::BodyStream) -> Result<Vec<u8>, ProviderError> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(ProviderError::Protocol(format!("reply longer than {MAX_REPLY_BYTES} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Refuses token inputs, for targets that read only text.
fn texts_only(req: &EmbedRequest) -> Result<(), String> {
    match req.inputs.iter().any(|i| matches!(i, Input::Tokens(_))) {
        true => Err("this model takes text inputs only, not token arrays".into()),
        false => Ok(()),
    }
}

/// Refuses a text input longer than `max` characters.
fn at_most_chars(req: &EmbedRequest, max: usize) -> Result<(), String> {
    let long = |i: &Input| matches!(i, Input::Text(t) if t.chars().count() > max);
    match req.inputs.iter().position(long) {
        Some(n) => Err(format!("input {n} is longer than this model's {max} characters")),
        None => Ok(()),
    }
}

/// The text of each input of `batch`, which [`texts_only`] has let through.
fn texts(batch: &[Input]) -> Result<Vec<&str>, ProviderError> {
    batch
        .iter()
        .map(|i| match i {
            Input::Text(t) => Ok(t.as_str()),
            Input::Tokens(_) => Err(ProviderError::Config("token inputs for a text-only model".into())),
        })
        .collect()
}

#[cfg(test)]
mod tests;
