//! Embeddings as each provider's API answers them: OpenAI `POST /v1/embeddings`, Gemini
//! `models/{model}:batchEmbedContents`, and Bedrock InvokeModel for Titan Text Embeddings
//! v2 and Cohere Embed. Vectors are made from the text alone (the same text always gets
//! the same unit vector), of the size asked for or the model's default.

mod bedrock;
mod gemini;
mod openai;

use http::{Response, StatusCode};
use serde_json::Value;

use crate::bedrock::Bedrock;
use crate::delivery::Refused;
use crate::dialect::{ApiError, Body, Dialect, PathTarget, RawRequest, json_response};
use crate::gemini::Gemini;
use crate::openai::OpenAi;
use crate::scenario::Fault;
use crate::server::{State, body_model};

/// Which embeddings API a request is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Api {
    OpenAi,
    Gemini,
    Bedrock,
}

/// A successful answer: its body and extra headers.
struct Answer {
    body: Value,
    headers: Vec<(&'static str, String)>,
}

/// Reads the request for `model` and answers it, or says why not.
type Embed = fn(&RawRequest, &str) -> Result<Answer, ApiError>;

/// Records, authenticates and reads an embeddings request, then answers as its model's
/// scenario says: only its `refuse` and `status` faults apply.
pub(crate) async fn serve(
    state: &State,
    request: RawRequest,
    api: Api,
    target: PathTarget,
) -> Result<Response<Body>, Refused> {
    match api {
        Api::OpenAi => answer::<OpenAi>(state, &request, target, openai::embed),
        Api::Gemini => answer::<Gemini>(state, &request, target, gemini::embed),
        Api::Bedrock => answer::<Bedrock>(state, &request, target, bedrock::embed),
    }
}

fn answer<D: Dialect>(
    state: &State,
    request: &RawRequest,
    target: PathTarget,
    embed: Embed,
) -> Result<Response<Body>, Refused> {
    let model = target.model.or_else(|| body_model(&request.body));
    state.log.record(D::PROVIDER, request, model.clone(), D::presented_key(request), None);
    if let Err(error) = D::authenticate(request, &state.checks()) {
        return Ok(D::error_response(&error));
    }
    let model = model.unwrap_or_default();
    let answer = match embed(request, &model) {
        Ok(answer) => answer,
        Err(error) => return Ok(D::error_response(&error)),
    };
    match state.scenarios.next_turn(&model).fault {
        Some(Fault::Refuse) => Err(Refused),
        Some(Fault::Status { status, retry_after_s, message }) => {
            let mut error = ApiError::from_status(status).retry_after(retry_after_s);
            error.message = message;
            Ok(D::error_response(&error))
        }
        _ => Ok(json_response(StatusCode::OK, &answer.body, answer.headers, None)),
    }
}

/// The unit vector of `text` with `dimensions` components, from a hash of the text.
pub(crate) fn vector(text: &str, dimensions: usize) -> Vec<f32> {
    // FNV-1a, then xorshift64: stable across runs and platforms.
    let mut state =
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut values: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    values.iter_mut().for_each(|v| *v /= norm);
    values
}

/// Tokens of a text, as the chat formats count them: a quarter of its characters, rounded up.
pub(crate) fn tokens(text: &str) -> u32 {
    text.chars().count().div_ceil(4).try_into().unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_and_depend_on_the_text_only() {
        let a = vector("hello", 8);
        assert_eq!(a, vector("hello", 8));
        assert_ne!(a, vector("hellp", 8));
        let norm: f32 = a.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert_eq!(vector("x", 3072).len(), 3072);
    }
}
