//! OpenAI's `POST /embeddings`, also spoken by compatible servers (Ollama, vLLM…):
//! everything passes through as the client sent it, token arrays included.

use super::{EmbedRequest, Embedded, Encoding, Format, Input};
use crate::providers::openai::OpenAi as Chat;
use crate::providers::wire::{endpoint, parse, post_json};
use crate::providers::{Credentials, ProviderError, Target, WireFormat};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub struct OpenAi;

const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// OpenAI's limit of inputs per request.
const BATCH: usize = 2048;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    input: &'a [Input],
    /// Left out for floats, the default, which servers that know no other understand.
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_format: Option<Encoding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

#[derive(Deserialize)]
struct Reply {
    data: Vec<Item>,
    usage: Option<ReplyUsage>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    index: usize,
    embedding: Vector,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Deserialize)]
struct ReplyUsage {
    prompt_tokens: Option<u64>,
}

impl Format for OpenAi {
    fn batch_size(&self) -> usize {
        BATCH
    }

    fn check(&self, _req: &EmbedRequest) -> Result<(), String> {
        Ok(())
    }

    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &EmbedRequest,
        batch: &[Input],
        _now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let uri = endpoint(&target.base_url, DEFAULT_BASE_URL, "/embeddings")?;
        let body = Body {
            model: &target.model,
            input: batch,
            encoding_format: Some(req.encoding).filter(|e| *e != Encoding::Float),
            dimensions: req.dimensions,
            user: req.user.as_deref(),
        };
        let key = credentials.api_key.as_ref().map(|key| ("authorization", format!("Bearer {key}")));
        post_json(uri, key, &[], &body)
    }

    fn read(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Embedded, ProviderError> {
        let mut reply: Reply = parse("OpenAI embeddings", body)?;
        reply.data.sort_by_key(|item| item.index);
        let vectors = reply.data.into_iter().map(|item| item.embedding.floats()).collect::<Result<_, _>>()?;
        Ok(Embedded { vectors, prompt_tokens: reply.usage.and_then(|u| u.prompt_tokens) })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        Chat.error(status, headers, body)
    }
}

impl Vector {
    fn floats(self) -> Result<Vec<f32>, ProviderError> {
        match self {
            Vector::Floats(v) => Ok(v),
            Vector::Base64(text) => {
                let bad = || ProviderError::Protocol("an embedding is not base64 of 32-bit floats".into());
                let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| bad())?;
                if bytes.len() % 4 != 0 {
                    return Err(bad());
                }
                Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
        }
    }
}
