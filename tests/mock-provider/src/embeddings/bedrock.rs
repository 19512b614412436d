//! Bedrock `POST /model/{modelId}/invoke` for the embedding models. Titan Text Embeddings v2
//! (`amazon.titan-embed-text-v2:0`): `inputText`, `dimensions` 256, 512 or 1024 (default
//! 1024), `normalize`; answers `embedding`, `embeddingsByType.float` and
//! `inputTextTokenCount`. Cohere Embed (`cohere.embed-english-v3`, `-multilingual-v3`):
//! `texts` (1 to 96, each at most 2048 characters), `input_type` required; answers 1024-wide
//! `embeddings` with `response_type: embeddings_floats`. Both carry
//! `X-Amzn-Bedrock-Input-Token-Count`. Other models are a `ValidationException`.

use serde::Deserialize;
use serde_json::json;

use super::{Answer, tokens, vector};
use crate::dialect::{ApiError, RawRequest, next_seq, parse_json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanBody {
    input_text: Option<String>,
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct CohereBody {
    texts: Option<Vec<String>>,
    input_type: Option<String>,
}

const INPUT_TYPES: [&str; 4] = ["search_document", "search_query", "classification", "clustering"];
const COHERE_MAX_TEXTS: usize = 96;
const COHERE_MAX_CHARS: usize = 2048;

/// Reads the request for the model's family and embeds it.
pub(super) fn embed(request: &RawRequest, model: &str) -> Result<Answer, ApiError> {
    if model.contains("amazon.titan-embed-text-v2") {
        titan(&request.body)
    } else if model.contains("cohere.embed-") {
        cohere(&request.body)
    } else {
        Err(ApiError::bad_request("The provided model identifier is invalid."))
    }
}

fn malformed(detail: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Malformed input request: {detail}, please reformat your input and try again."
    ))
}

fn titan(body: &[u8]) -> Result<Answer, ApiError> {
    let body: TitanBody = parse_json(body).map_err(|e| malformed(&format!("#: {e}")))?;
    let text = body.input_text.ok_or_else(|| malformed("#: required key [inputText] not found"))?;
    if text.is_empty() {
        return Err(malformed("#/inputText: expected minLength: 1, actual: 0"));
    }
    let dimensions = body.dimensions.unwrap_or(1024);
    if ![256, 512, 1024].contains(&dimensions) {
        return Err(malformed(&format!("#/dimensions: {dimensions} is not a valid enum value")));
    }
    // Vectors are unit length whether or not `normalize` asks for it.
    let values = vector(&text, dimensions);
    let used = tokens(&text);
    let body =
        json!({"embedding": values, "embeddingsByType": {"float": values}, "inputTextTokenCount": used});
    Ok(Answer { body, headers: headers(used) })
}

fn cohere(body: &[u8]) -> Result<Answer, ApiError> {
    let body: CohereBody = parse_json(body).map_err(|e| malformed(&format!("#: {e}")))?;
    let texts = body.texts.ok_or_else(|| malformed("#: required key [texts] not found"))?;
    match body.input_type.as_deref() {
        Some(kind) if INPUT_TYPES.contains(&kind) => {}
        Some(kind) => return Err(malformed(&format!("#/input_type: {kind} is not a valid enum value"))),
        None => return Err(malformed("#: required key [input_type] not found")),
    }
    if texts.is_empty() || texts.len() > COHERE_MAX_TEXTS {
        return Err(malformed(&format!(
            "#/texts: expected maxItems: {COHERE_MAX_TEXTS}, actual: {}",
            texts.len()
        )));
    }
    if let Some(long) = texts.iter().find(|t| t.chars().count() > COHERE_MAX_CHARS) {
        let chars = long.chars().count();
        return Err(malformed(&format!("#/texts: expected maxLength: {COHERE_MAX_CHARS}, actual: {chars}")));
    }
    let embeddings: Vec<Vec<f32>> = texts.iter().map(|t| vector(t, 1024)).collect();
    let used = texts.iter().map(|t| tokens(t)).sum();
    let id = format!("{:08x}-0000-4000-8000-{:012x}", next_seq(), next_seq());
    let body =
        json!({"embeddings": embeddings, "id": id, "response_type": "embeddings_floats", "texts": texts});
    Ok(Answer { body, headers: headers(used) })
}

fn headers(input_tokens: u32) -> Vec<(&'static str, String)> {
    vec![
        ("x-amzn-RequestId", format!("00000000-0000-4000-8000-{:012x}", next_seq())),
        ("X-Amzn-Bedrock-Input-Token-Count", input_tokens.to_string()),
    ]
}
