//! Google Gemini's `POST /v1beta/models/{model}:batchEmbedContents`: one request per
//! input, up to 100 in a call. Its reply counts no tokens.

use super::{EmbedRequest, Embedded, Format, Input, texts, texts_only};
use crate::providers::gemini::{Gemini as Chat, model_name};
use crate::providers::wire::{endpoint, parse, post_json};
use crate::providers::{Credentials, ProviderError, Target, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub struct Gemini;

const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// The API's limit of requests per batch.
const BATCH: usize = 100;

#[derive(Serialize)]
struct Body<'a> {
    requests: Vec<EmbedContent<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbedContent<'a> {
    /// The same model as the URL's, as the API requires.
    model: &'a str,
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

#[derive(Serialize)]
struct Content<'a> {
    parts: [Part<'a>; 1],
}

#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    embeddings: Vec<ContentEmbedding>,
}

#[derive(Deserialize)]
struct ContentEmbedding {
    values: Vec<f32>,
}

impl Format for Gemini {
    fn batch_size(&self) -> usize {
        BATCH
    }

    fn check(&self, req: &EmbedRequest) -> Result<(), String> {
        texts_only(req)
    }

    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &EmbedRequest,
        batch: &[Input],
        _now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let model = model_name(&target.model);
        let uri =
            endpoint(&target.base_url, DEFAULT_BASE_URL, &format!("/v1beta/{model}:batchEmbedContents"))?;
        let requests = texts(batch)?
            .into_iter()
            .map(|text| EmbedContent {
                model: &model,
                content: Content { parts: [Part { text }] },
                output_dimensionality: req.dimensions,
            })
            .collect();
        let key = credentials.api_key.clone().map(|key| ("x-goog-api-key", key));
        post_json(uri, key, &[], &Body { requests })
    }

    fn read(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Embedded, ProviderError> {
        let reply: Reply = parse("Gemini embeddings", body)?;
        Ok(Embedded {
            vectors: reply.embeddings.into_iter().map(|e| e.values).collect(),
            prompt_tokens: None,
        })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        Chat.error(status, headers, body)
    }
}
