//! Gemini `POST /v1beta/models/{model}:batchEmbedContents`: `requests` (1 to 100), each for
//! the URL's model with `content.parts[].text` and an optional `outputDimensionality`
//! (snake_case accepted too, as proto3 JSON is). Answers `{"embeddings": [{"values"}]}`
//! without usage, as the API does. Default size: `gemini-embedding-001` 3072, others 768.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, vector};
use crate::dialect::{ApiError, RawRequest, TextPart, parse_json, texts};

#[derive(Deserialize)]
struct BatchBody {
    requests: Option<Vec<EmbedRequest>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmbedRequest {
    model: Option<String>,
    content: Option<Content>,
    #[serde(alias = "output_dimensionality")]
    output_dimensionality: Option<usize>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<TextPart>,
}

const MAX_REQUESTS: usize = 100;

/// Reads the batch and embeds each request's text.
pub(super) fn embed(request: &RawRequest, model: &str) -> Result<Answer, ApiError> {
    let body: BatchBody = parse_json(&request.body)
        .map_err(|error| ApiError::bad_request(format!("Invalid JSON payload received. {error}")))?;
    let requests = body.requests.filter(|r| !r.is_empty()).ok_or_else(|| {
        ApiError::bad_request("* BatchEmbedContentsRequest.requests: requests is not specified\n")
    })?;
    if requests.len() > MAX_REQUESTS {
        return Err(ApiError::bad_request(format!(
            "* BatchEmbedContentsRequest.requests: at most {MAX_REQUESTS} requests can be in one batch\n"
        )));
    }
    let resource = format!("models/{model}");
    let embeddings = requests
        .iter()
        .enumerate()
        .map(|(i, one)| embedding(one, &resource, model, i))
        .collect::<Result<Vec<Value>, ApiError>>()?;
    Ok(Answer { body: json!({ "embeddings": embeddings }), headers: Vec::new() })
}

fn embedding(one: &EmbedRequest, resource: &str, model: &str, index: usize) -> Result<Value, ApiError> {
    if one.model.as_deref() != Some(resource) {
        return Err(ApiError::bad_request(format!(
            "Model name in the request ({}) does not match the model name in the URL ({resource}).",
            one.model.as_deref().unwrap_or_default()
        )));
    }
    let text = one.content.as_ref().map(|c| texts(&c.parts).join(" ")).unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::bad_request(format!(
            "* BatchEmbedContentsRequest.requests[{index}].content: contents is not specified\n"
        )));
    }
    let size = if model == "gemini-embedding-001" { 3072 } else { 768 };
    let dimensions = one.output_dimensionality.unwrap_or(size);
    if !(1..=size).contains(&dimensions) {
        return Err(ApiError::bad_request(format!(
            "* BatchEmbedContentsRequest.requests[{index}].output_dimensionality: must be between 1 and {size}\n"
        )));
    }
    Ok(json!({"values": vector(&text, dimensions)}))
}
