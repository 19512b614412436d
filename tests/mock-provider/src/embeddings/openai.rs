//! OpenAI `POST /v1/embeddings`: `input` a string, strings, token ids or arrays of them (at
//! most 2048 items, none empty), `encoding_format` `float` or `base64`, `dimensions` up to
//! the model's size (`text-embedding-3-large` 3072, others 1536; `text-embedding-ada-002`
//! has no `dimensions`).

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, tokens, vector};
use crate::dialect::{ApiError, RawRequest, parse_json};

#[derive(Deserialize)]
struct EmbeddingBody {
    input: Option<Value>,
    encoding_format: Option<String>,
    dimensions: Option<usize>,
}

const MAX_INPUTS: usize = 2048;
const INVALID_INPUT: &str =
    "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

/// Reads the request and embeds every input.
pub(super) fn embed(request: &RawRequest, model: &str) -> Result<Answer, ApiError> {
    let body: EmbeddingBody = parse_json(&request.body).map_err(ApiError::bad_request)?;
    if model.is_empty() {
        return Err(ApiError::bad_request("you must provide a model parameter"));
    }
    let input = body.input.ok_or_else(|| {
        ApiError::bad_request("Missing required parameter: 'input'.")
            .param("input")
            .code("missing_required_parameter")
    })?;
    let inputs = inputs(&input).ok_or_else(|| ApiError::bad_request(INVALID_INPUT).param("input"))?;
    let dimensions = dimensions(model, body.dimensions)?;
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            let message = format!("Invalid value: '{other}'. Supported values are: 'float' and 'base64'.");
            return Err(ApiError::bad_request(message).param("encoding_format"));
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, (text, _))| {
            let values = vector(text, dimensions);
            let embedding = match base64 {
                true => json!(
                    base64::engine::general_purpose::STANDARD
                        .encode(values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>())
                ),
                false => json!(values),
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let used: u32 = inputs.iter().map(|(_, n)| n).sum();
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    });
    Ok(Answer {
        body,
        headers: vec![("x-request-id", crate::dialect::mock_id("req_", crate::dialect::next_seq()))],
    })
}

/// Each input as text (token ids joined by spaces) and its tokens; `None` when the shape is
/// wrong, an input is empty, or there are too many.
fn inputs(input: &Value) -> Option<Vec<(String, u32)>> {
    let items: Vec<&Value> = match input {
        Value::String(_) => vec![input],
        Value::Array(items) if items.iter().all(Value::is_u64) => vec![input],
        Value::Array(items) => items.iter().collect(),
        _ => return None,
    };
    if items.is_empty() || items.len() > MAX_INPUTS {
        return None;
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::String(text) if !text.is_empty() => Some((text.clone(), tokens(text))),
            Value::Array(ids) if !ids.is_empty() && ids.iter().all(Value::is_u64) => {
                let text = ids.iter().map(Value::to_string).collect::<Vec<_>>().join(" ");
                Some((text, ids.len().try_into().unwrap_or(u32::MAX)))
            }
            _ => None,
        })
        .collect()
}

fn dimensions(model: &str, asked: Option<usize>) -> Result<usize, ApiError> {
    let size = if model.contains("3-large") { 3072 } else { 1536 };
    match asked {
        None => Ok(size),
        Some(_) if model.contains("ada-002") => {
            Err(ApiError::bad_request("This model does not support specifying dimensions.")
                .param("dimensions"))
        }
        Some(d) if (1..=size).contains(&d) => Ok(d),
        Some(d) => Err(ApiError::bad_request(format!(
            "Invalid value for 'dimensions' = {d}. Must be between 1 and {size}."
        ))
        .param("dimensions")),
    }
}
