//! Embeddings over a model's targets: the inputs go in each target's own batch size, a
//! few calls at a time, and the whole request falls back to the next target (with the
//! router's retries and circuit breakers) when one fails. Each call is timed out like a
//! first token.

use super::models::ModelRoute;
use super::router::{over_targets, timeout};
use crate::app::App;
use crate::providers::embeddings::{self, EmbedRequest, Input};
use crate::providers::{ProviderError, Target};
use futures::{StreamExt, TryStreamExt};
use std::time::Duration;

/// Calls in flight at once for one request: enough to hide latency when a target takes
/// one input a call (Titan), few enough not to trip the provider's rate limits.
const CONCURRENT_CALLS: usize = 4;

/// Every input's vector, in order, and the tokens they cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Vectors {
    pub vectors: Vec<Vec<f32>>,
    /// The providers' counts, or an estimate for batches they did not count.
    pub prompt_tokens: u64,
}

pub async fn embed(app: &App, route: &ModelRoute, req: &EmbedRequest) -> Result<Vectors, ProviderError> {
    let (_, vectors) = over_targets(app, route, |target| on_target(app, target, req)).await?;
    Ok(vectors)
}

async fn on_target(app: &App, target: &Target, req: &EmbedRequest) -> Result<Vectors, ProviderError> {
    let size = embeddings::batch_size(target)?;
    let limit = Duration::from_millis(app.config.first_token_timeout_ms);
    // Collected first: a stream over a borrowing closure is not `Send` for every lifetime.
    let calls: Vec<_> =
        req.inputs.chunks(size).map(|batch| on_batch(app, target, req, batch, limit)).collect();
    let batches: Vec<_> = futures::stream::iter(calls).buffered(CONCURRENT_CALLS).try_collect().await?;
    let prompt_tokens = batches.iter().map(|(_, tokens)| tokens).sum();
    Ok(Vectors { vectors: batches.into_iter().flat_map(|(vectors, _)| vectors).collect(), prompt_tokens })
}

/// One batch's vectors and tokens (the provider's count, else the estimate).
async fn on_batch(
    app: &App,
    target: &Target,
    req: &EmbedRequest,
    batch: &[Input],
    limit: Duration,
) -> Result<(Vec<Vec<f32>>, u64), ProviderError> {
    let call = embeddings::call(app, target, req, batch);
    let embedded =
        timeout(&*app.clock, limit, call).await.unwrap_or(Err(ProviderError::Timeout("embeddings")))?;
    let tokens = embedded.prompt_tokens.unwrap_or_else(|| batch.iter().map(Input::estimated_tokens).sum());
    Ok((embedded.vectors, tokens))
}

#[cfg(test)]
mod tests;
