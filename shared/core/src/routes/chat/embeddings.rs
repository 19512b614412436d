//! `POST /v1/embeddings`, compatible with OpenAI's API: text (or, for targets that take
//! them, token arrays) in, vectors out, counted against the caller's quota like chat.

use crate::app::App;
use crate::auth::principal;
use crate::chat::cache::{self, CacheStatus};
use crate::chat::embeddings::{Vectors, embed};
use crate::chat::models::{ModelKind, ModelRoute};
use crate::chat::quota;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_json};
use crate::providers::Usage;
use crate::providers::embeddings::{self, EmbedRequest, Encoding, Input};
use crate::repo::{self, routing, usage};
use base64::Engine;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};

/// OpenAI's limit of inputs per request.
const MAX_INPUTS: usize = 2048;
/// Characters of one text input: the longest any target reads (Titan's 50 000).
const MAX_INPUT_CHARS: usize = 50_000;
/// Token ids of one token input: OpenAI's models' 8192.
const MAX_INPUT_TOKENS: usize = 8192;
/// Bytes of text in one request, whatever the body limit.
const MAX_TOTAL_BYTES: usize = 4 * 1024 * 1024;

/// The OpenAI embeddings request.
#[derive(Deserialize, ToSchema)]
pub struct EmbeddingRequest {
    pub model: String,
    /// A string, an array of strings, an array of token ids, or an array of token id
    /// arrays (token ids for OpenAI-compatible targets only).
    #[schema(schema_with = inputs_schema)]
    pub input: Inputs,
    /// `float` (the default) or `base64` (little-endian 32-bit floats).
    #[serde(default)]
    pub encoding_format: Encoding,
    /// Vector size, for models that offer several.
    #[schema(minimum = 1, maximum = 4294967295_u32)]
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    pub dimensions: Option<i64>,
    /// The end user, passed to OpenAI-compatible targets.
    pub user: Option<String>,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "input must be a string, an array of strings, an array of token ids or an array of token id arrays"
)]
pub enum Inputs {
    /// First, so that `[]` is no inputs rather than one empty token array.
    Many(Vec<WireInput>),
    One(WireInput),
}

/// One input as JSON spells it: token ids may be whole floats (`3.0`), which JSON
/// Schema's `integer` allows.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum WireInput {
    Text(String),
    Tokens(Vec<serde_json::Number>),
}

impl WireInput {
    fn parse(self, n: usize) -> ApiResult<Input> {
        let id = |id: serde_json::Number| {
            let whole = id.as_f64().filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f));
            let whole = whole.map(|f| f as u64);
            id.as_u64().or(whole).and_then(|id| u32::try_from(id).ok()).ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "input {n}: token ids are whole numbers from 0 to {}",
                    u32::MAX
                ))
            })
        };
        match self {
            WireInput::Text(text) => Ok(Input::Text(text)),
            WireInput::Tokens(ids) => Ok(Input::Tokens(ids.into_iter().map(id).collect::<ApiResult<_>>()?)),
        }
    }
}

/// `input` as the API takes it, limits included.
fn inputs_schema() -> Schema {
    let text = || ObjectBuilder::new().schema_type(Type::String).min_length(Some(1));
    let id = || ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(u32::MAX));
    let ids = || ArrayBuilder::new().items(id()).min_items(Some(1));
    let many = |item: RefOr<Schema>| ArrayBuilder::new().items(item).min_items(Some(1));
    OneOfBuilder::new()
        .item(text())
        .item(many(text().into()))
        .item(ids())
        .item(many(ids().into()))
        .description(Some(format!(
            "at most {MAX_INPUTS} inputs, each at most {MAX_INPUT_CHARS} characters or {MAX_INPUT_TOKENS} token ids"
        )))
        .into()
}

impl EmbeddingRequest {
    /// The provider-neutral request, within the limits.
    fn into_request(self) -> ApiResult<EmbedRequest> {
        let wire = match self.input {
            Inputs::One(input) => vec![input],
            Inputs::Many(inputs) => inputs,
        };
        let inputs =
            wire.into_iter().enumerate().map(|(n, input)| input.parse(n)).collect::<ApiResult<Vec<_>>>()?;
        check_inputs(&inputs)?;
        let dimensions = self
            .dimensions
            .map(|d| u32::try_from(d).ok().filter(|d| *d >= 1))
            .map(|d| d.ok_or_else(|| ApiError::InvalidRequest("dimensions must be at least 1".into())))
            .transpose()?;
        Ok(EmbedRequest { inputs, dimensions, user: self.user, encoding: self.encoding_format })
    }
}

fn check_inputs(inputs: &[Input]) -> ApiResult<()> {
    let bad = |m: String| Err(ApiError::InvalidRequest(m));
    if inputs.is_empty() {
        return bad("input must not be empty".into());
    }
    if inputs.len() > MAX_INPUTS {
        return bad(format!("input has {} items; at most {MAX_INPUTS} are allowed", inputs.len()));
    }
    let mut total = 0;
    for (n, input) in inputs.iter().enumerate() {
        match input {
            Input::Text(t) if t.is_empty() => return bad(format!("input {n} is empty")),
            Input::Tokens(ids) if ids.is_empty() => return bad(format!("input {n} is empty")),
            Input::Text(t) if t.chars().count() > MAX_INPUT_CHARS => {
                return bad(format!("input {n} is longer than {MAX_INPUT_CHARS} characters"));
            }
            Input::Tokens(ids) if ids.len() > MAX_INPUT_TOKENS => {
                return bad(format!("input {n} has more than {MAX_INPUT_TOKENS} tokens"));
            }
            Input::Text(t) => total += t.len(),
            Input::Tokens(ids) => total += ids.len() * 4,
        }
    }
    if total > MAX_TOTAL_BYTES {
        return Err(ApiError::TooLarge(format!(
            "the inputs together are larger than {MAX_TOTAL_BYTES} bytes"
        )));
    }
    Ok(())
}

/// 400 unless every target of `route` can take `req`, so that falling back never
/// meets a request the next target refuses.
fn check_targets(route: &ModelRoute, req: &EmbedRequest) -> ApiResult<()> {
    for target in &route.targets {
        embeddings::check(target, req)
            .map_err(|e| ApiError::InvalidRequest(format!("model {}: {e}", route.name)))?;
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", operation_id = "openai_embeddings",
    security(("bearer" = [])),
    request_body = EmbeddingRequest,
    responses((status = 200, description = "a list of embedding objects, as OpenAI's API answers"),
        (status = 400, description = "empty or too many inputs, an input too long, a chat model, or a request \
            the model's targets cannot take (token arrays, dimensions)", body = crate::http::ErrorBody),
        (status = 403, description = "`model_not_allowed`: the API key may not use this model", body = crate::http::ErrorBody),
        (status = 404, description = "unknown model", body = crate::http::ErrorBody),
        (status = 413, description = "the inputs together are too large", body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody), (status = 503, body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let user = caller.user.clone();
    let body: EmbeddingRequest = parse_json(&req)?;
    caller.check_model(&body.model)?;
    let model = body.model.clone();
    let request = body.into_request()?;
    let key = cache::embeddings_key(app, req.headers(), user.id, req.body());
    if let Some(key) = &key
        && let Some(vectors) = cache::kept::<Vectors>(app, key).await
    {
        let config = routing::load(app).await?;
        let route = config.route_of_kind(&model, ModelKind::Embedding)?;
        if let Err(e) = usage::add_cached(app, app.clock.now().date(), user.id, &route.name).await {
            tracing::error!(error = %e, "usage could not be recorded");
        }
        let list = EmbeddingList::new(&route.name, vectors, request.encoding);
        return Ok(cache::mark(app, "embeddings", json(StatusCode::OK, &list), Some(CacheStatus::Hit)));
    }
    let prepare = async {
        let config = routing::load(app).await?;
        let route = config.route_of_kind(&model, ModelKind::Embedding)?.clone();
        check_targets(&route, &request)?;
        Ok((route, request.inputs.iter().map(Input::estimated_tokens).sum()))
    };
    let (route, reservation) = quota::admit(app, &user, prepare).await?;
    let vectors = embed(app, &route, &request).await.map_err(ApiError::Upstream)?;
    let usage = Usage { input_tokens: vectors.prompt_tokens, output_tokens: 0 };
    if let Err(e) = reservation.settle(&route.name, usage).await {
        tracing::error!(error = %e, "usage could not be recorded");
    }
    if let Some(key) = &key
        && let Err(e) = repo::cache::put(app, key, &vectors).await
    {
        tracing::warn!(error = %e, "vectors could not be kept in the response cache");
    }
    let list = EmbeddingList::new(&route.name, vectors, request.encoding);
    Ok(cache::mark(app, "embeddings", json(StatusCode::OK, &list), key.map(|_| CacheStatus::Miss)))
}

/// What `POST /v1/embeddings` answers.
#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<Embedding>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

impl<'a> EmbeddingList<'a> {
    fn new(model: &'a str, vectors: Vectors, encoding: Encoding) -> Self {
        let data = vectors
            .vectors
            .into_iter()
            .enumerate()
            .map(|(index, v)| Embedding {
                object: "embedding",
                index,
                embedding: Vector::encoded(v, encoding),
            })
            .collect();
        let usage =
            EmbeddingUsage { prompt_tokens: vectors.prompt_tokens, total_tokens: vectors.prompt_tokens };
        EmbeddingList { object: "list", data, model, usage }
    }
}

impl Vector {
    fn encoded(floats: Vec<f32>, encoding: Encoding) -> Vector {
        match encoding {
            Encoding::Float => Vector::Floats(floats),
            Encoding::Base64 => {
                let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
                Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }
}

#[cfg(test)]
mod tests;
