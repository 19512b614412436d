//! Amazon Bedrock InvokeModel (`POST /model/{modelId}/invoke`, SigV4-signed) for the
//! two embedding families whose bodies differ: Titan Text Embeddings v2 (one text a
//! call) and Cohere Embed (up to 96 texts a call).

use super::{EmbedRequest, Embedded, Format, Input, at_most_chars, texts, texts_only};
use crate::providers::bedrock::{Bedrock as Chat, signed_post};
use crate::providers::wire::parse;
use crate::providers::{Credentials, ProviderError, Target, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `amazon.titan-embed-text-v2:0`.
pub struct Titan;
/// `cohere.embed-english-v3`, `cohere.embed-multilingual-v3`.
pub struct Cohere;

/// Titan v2's sizes; 1024 when none is asked for.
const TITAN_DIMENSIONS: [u32; 3] = [256, 512, 1024];
const TITAN_MAX_CHARS: usize = 50_000;
const COHERE_BATCH: usize = 96;
const COHERE_MAX_CHARS: usize = 2048;
/// InvokeModel's count of the request's tokens.
const INPUT_TOKENS_HEADER: &str = "x-amzn-bedrock-input-token-count";

/// The family's format, told by the model id (or an ARN or inference profile ending in it).
pub fn format_of(model: &str) -> Result<&'static dyn Format, String> {
    if model.contains("amazon.titan-embed-text-v2") {
        Ok(&Titan)
    } else if model.contains("cohere.embed-") {
        Ok(&Cohere)
    } else {
        Err(format!(
            "Bedrock model {model:?} is neither Titan Text Embeddings v2 (amazon.titan-embed-text-v2:0) nor \
             Cohere Embed (cohere.embed-…)"
        ))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanBody<'a> {
    input_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    /// Unit vectors, as OpenAI's are.
    normalize: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanReply {
    embedding: Vec<f32>,
    input_text_token_count: Option<u64>,
}

impl Format for Titan {
    fn batch_size(&self) -> usize {
        1
    }

    fn check(&self, req: &EmbedRequest) -> Result<(), String> {
        texts_only(req)?;
        if let Some(d) = req.dimensions.filter(|d| !TITAN_DIMENSIONS.contains(d)) {
            return Err(format!("this model's dimensions are 256, 512 or 1024, not {d}"));
        }
        at_most_chars(req, TITAN_MAX_CHARS)
    }

    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &EmbedRequest,
        batch: &[Input],
        now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let [input_text] = texts(batch)?[..] else {
            return Err(ProviderError::Config("Titan embeds one text a call".into()));
        };
        let body = TitanBody { input_text, dimensions: req.dimensions, normalize: true };
        signed_post(target, credentials, "invoke", &body, now)
    }

    fn read(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Embedded, ProviderError> {
        let reply: TitanReply = parse("Titan embedding", body)?;
        Ok(Embedded { vectors: vec![reply.embedding], prompt_tokens: reply.input_text_token_count })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        Chat.error(status, headers, body)
    }
}

#[derive(Serialize)]
struct CohereBody<'a> {
    texts: Vec<&'a str>,
    /// What the vectors are for: documents to search, the general case.
    input_type: &'static str,
}

#[derive(Deserialize)]
struct CohereReply {
    embeddings: Vec<Vec<f32>>,
}

impl Format for Cohere {
    fn batch_size(&self) -> usize {
        COHERE_BATCH
    }

    fn check(&self, req: &EmbedRequest) -> Result<(), String> {
        texts_only(req)?;
        if req.dimensions.is_some() {
            return Err("this model's vectors have one size; leave dimensions out".into());
        }
        at_most_chars(req, COHERE_MAX_CHARS)
    }

    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        _req: &EmbedRequest,
        batch: &[Input],
        now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let body = CohereBody { texts: texts(batch)?, input_type: "search_document" };
        signed_post(target, credentials, "invoke", &body, now)
    }

    fn read(&self, headers: &HeaderMap, body: &[u8]) -> Result<Embedded, ProviderError> {
        let reply: CohereReply = parse("Cohere embeddings", body)?;
        let tokens = headers.get(INPUT_TOKENS_HEADER).and_then(|v| v.to_str().ok()?.trim().parse().ok());
        Ok(Embedded { vectors: reply.embeddings, prompt_tokens: tokens })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        Chat.error(status, headers, body)
    }
}
