//! Routing one request over a model's targets: retries with exponential backoff and
//! full jitter on retryable failures (honouring `Retry-After`), fallback to the next
//! target, circuit breakers, and the first-token and idle timeouts. Fallback is only
//! possible until the first token: after that the reply belongs to one target.

use super::models::{ModelKind, ModelRoute};
use crate::app::App;
use crate::metrics::{
    INPUT_TOKENS, Metrics, OUTPUT_TOKENS, PROVIDER_ATTEMPTS, PROVIDER_ERRORS, Sample, TIME_TO_FIRST_TOKEN,
};
use crate::ports::{Clock, random};
use crate::providers::{self, ChatRequest, EventStream, ProviderError, ProviderEvent, Target, Usage};
use futures::future::{Either, select};
use futures::{Future, StreamExt};
use std::sync::Arc;
use std::time::Duration;

/// Longest `Retry-After` worth waiting for; a longer one moves on to the next target.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// A reply that has started: the events up to and including the first token, and
/// the rest of the stream (with the idle timeout applied).
pub struct Opened {
    pub target: Target,
    pub first: Vec<ProviderEvent>,
    pub rest: EventStream,
}

/// `fut`'s output, or `None` if `duration` passes first.
pub async fn timeout<T>(clock: &dyn Clock, duration: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let fut = std::pin::pin!(fut);
    match select(fut, clock.sleep(duration)).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

pub async fn open(app: &App, route: &ModelRoute, req: &ChatRequest) -> Result<Opened, ProviderError> {
    let (target, (first, rest)) = over_targets(app, route, |target| first_events(app, target, req)).await?;
    let mut counted = ReplyCount {
        metrics: app.metrics.clone(),
        model: route.name.clone(),
        target: target.clone(),
        usage: None,
    };
    first.iter().for_each(|event| counted.see(Ok(event)));
    let rest = with_idle_timeout(app.clock.clone(), idle_timeout(app), rest);
    let rest = Box::pin(rest.inspect(move |event| counted.see(event.as_ref())));
    Ok(Opened { target: target.clone(), first, rest })
}

/// Counts a reply's tokens (the last usage it reports: formats report running totals)
/// when its stream is dropped, and a failure mid-stream when it comes.
struct ReplyCount {
    metrics: Arc<Metrics>,
    model: String,
    target: Target,
    usage: Option<Usage>,
}

impl ReplyCount {
    fn see(&mut self, event: Result<&ProviderEvent, &ProviderError>) {
        match event {
            Ok(ProviderEvent::Usage(usage)) => self.usage = Some(*usage),
            Ok(_) => {}
            Err(e) => {
                let labels = [self.model.as_str(), self.target.provider.name(), e.code()];
                self.metrics.record(&[Sample::new(&PROVIDER_ERRORS, &labels, 1.0)]);
            }
        }
    }
}

impl Drop for ReplyCount {
    fn drop(&mut self) {
        let Some(usage) = self.usage.take() else { return };
        let labels = [self.model.as_str(), self.target.provider.name()];
        self.metrics.record(&[
            Sample::new(&INPUT_TOKENS, &labels, usage.input_tokens as f64),
            Sample::new(&OUTPUT_TOKENS, &labels, usage.output_tokens as f64),
        ]);
    }
}

/// Counts an attempt on `target`, with its time to the first token (chat models) or
/// its error.
fn count_attempt(app: &App, route: &ModelRoute, target: &Target, outcome: Result<i64, &ProviderError>) {
    let labels = [route.name.as_str(), target.provider.name()];
    let attempt = Sample::new(&PROVIDER_ATTEMPTS, &labels, 1.0);
    match outcome {
        Ok(ms) if route.kind == ModelKind::Chat => {
            app.metrics.record(&[attempt, Sample::new(&TIME_TO_FIRST_TOKEN, &labels, ms as f64 / 1000.0)])
        }
        Ok(_) => app.metrics.record(&[attempt]),
        Err(e) => {
            let labels = [labels[0], labels[1], e.code()];
            app.metrics.record(&[attempt, Sample::new(&PROVIDER_ERRORS, &labels, 1.0)]);
        }
    }
}

/// The first success of `attempt` over `route`'s targets in order: each target is
/// retried with backoff while its failures are retryable, skipped while its circuit is
/// open, and its breaker told how each attempt went.
pub async fn over_targets<'r, T, F, Fut>(
    app: &App,
    route: &'r ModelRoute,
    mut attempt_on: F,
) -> Result<(&'r Target, T), ProviderError>
where
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut last_error = ProviderError::Config(format!("model {} has no targets", route.name));
    for target in &route.targets {
        for attempt in 0..=app.config.provider_retries {
            if !app.breakers.admit(target, app.now_ms()) {
                last_error = ProviderError::Connect(format!("circuit open for {}", target.model));
                break;
            }
            let started = app.now_ms();
            match attempt_on(target).await {
                Ok(value) => {
                    let elapsed_ms = app.now_ms() - started;
                    app.breakers.success(target, elapsed_ms as f64);
                    count_attempt(app, route, target, Ok(elapsed_ms));
                    return Ok((target, value));
                }
                Err(e) => {
                    count_attempt(app, route, target, Err(&e));
                    tracing::warn!(model = %target.model, provider = ?target.provider, attempt, error = %e, "provider attempt failed");
                    if e.retryable() {
                        app.breakers.failure(target, e.to_string(), app.now_ms());
                    }
                    let wait = backoff(app, attempt, &e);
                    last_error = e;
                    match wait {
                        Some(delay) if attempt < app.config.provider_retries => app.clock.sleep(delay).await,
                        _ => break,
                    }
                }
            }
        }
    }
    Err(last_error)
}

fn idle_timeout(app: &App) -> Duration {
    Duration::from_millis(app.config.idle_timeout_ms)
}

/// How long to wait before retrying after `error`, or `None` when retrying the same
/// target is pointless (not retryable, or it asks for too long a wait).
fn backoff(app: &App, attempt: u32, error: &ProviderError) -> Option<Duration> {
    if !error.retryable() {
        return None;
    }
    let ceiling =
        Duration::from_millis(app.config.retry_base_ms).saturating_mul(1 << attempt.min(16)).min(BACKOFF_CAP);
    let fraction = u64::from_le_bytes(random::bytes(&*app.random)) as f64 / u64::MAX as f64;
    let jitter = ceiling.mul_f64(fraction);
    match error {
        ProviderError::Status { retry_after: Some(after), .. } if *after > MAX_RETRY_WAIT => None,
        ProviderError::Status { retry_after: Some(after), .. } => Some(jitter.max(*after)),
        _ => Some(jitter),
    }
}

/// Sends to one target and waits for its first token (or an immediate finish).
async fn first_events(
    app: &App,
    target: &Target,
    req: &ChatRequest,
) -> Result<(Vec<ProviderEvent>, EventStream), ProviderError> {
    let work = async {
        let mut stream = providers::call::stream(app, target, req).await?;
        let mut first = Vec::new();
        while let Some(event) = stream.next().await {
            let event = event?;
            let started = matches!(
                event,
                ProviderEvent::Text(_) | ProviderEvent::ToolCall(_) | ProviderEvent::Finish(_)
            );
            first.push(event);
            if started {
                return Ok((first, stream));
            }
        }
        Err(ProviderError::Transport("the reply ended before it began".into()))
    };
    let limit = Duration::from_millis(app.config.first_token_timeout_ms);
    timeout(&*app.clock, limit, work).await.unwrap_or(Err(ProviderError::Timeout("the first token")))
}

/// Ends the stream with a timeout error when no event arrives for `idle`.
fn with_idle_timeout(clock: Arc<dyn Clock>, idle: Duration, stream: EventStream) -> EventStream {
    let state = Some((stream, clock));
    Box::pin(futures::stream::unfold(state, move |state| async move {
        let (mut stream, clock) = state?;
        match timeout(&*clock, idle, stream.next()).await {
            Some(Some(event)) => Some((event, Some((stream, clock)))),
            Some(None) => None,
            None => Some((Err(ProviderError::Timeout("the next token")), None)),
        }
    }))
}

#[cfg(test)]
mod tests;
