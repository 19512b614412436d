//! What the `/v1` chat routes (OpenAI's chat completions, Anthropic's messages) share
//! once their request is read: the caller's right to the model, the model's route, the
//! quota, the call through the router with its fallbacks, the usage accounting, and
//! the response cache (a hit replays a kept reply without any of the rest).

use super::v1_request::check_image_type;
use crate::app::App;
use crate::auth::Principal;
use crate::chat::cache::{CacheKey, CacheStatus, kept};
use crate::chat::context::estimate_prompt;
use crate::chat::models::{ModelKind, ModelRoute};
use crate::chat::quota::{self, Reservation};
use crate::chat::router;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::fetch;
use crate::providers::call;
use crate::providers::{ChatRequest, EventStream, ImageData, Part, ProviderError, ProviderEvent, Usage};
use crate::repo::{cache, routing, usage};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use std::sync::Arc;

/// A call under way: the reply's events, metered as they are read.
pub struct Call {
    /// The model's name, as the client gave it.
    pub model: String,
    /// Whether the reply came from the cache, when the request is one it keeps.
    pub cache: Option<CacheStatus>,
    events: EventStream,
    meter: Meter,
    /// On a cache miss, the reply's events so far: kept when the reply ends whole.
    recording: Option<Recording>,
}

/// Opens a call for `caller` to `model`: `translate` makes the provider-neutral
/// request for the model's route (its reply limit). Refused before any provider is called when
/// the caller may not use the model, a target cannot honour the request, or the quota
/// is spent. With a `cache` key, a kept reply is replayed instead (no provider, no
/// quota: usage counts it as cached), and a new whole reply is kept.
pub async fn open(
    app: &Arc<App>,
    caller: &Principal,
    model: &str,
    cache: Option<CacheKey>,
    translate: impl FnOnce(&ModelRoute) -> ApiResult<ChatRequest>,
) -> ApiResult<Call> {
    caller.check_model(model)?;
    if let Some(key) = &cache
        && let Some(events) = kept(app, key).await
    {
        let config = routing::load(app).await?;
        let route = config.route_of_kind(model, ModelKind::Chat)?;
        return Ok(Call::replay(app, caller.user.id, route.name.clone(), events));
    }
    let prepare = async {
        let config = routing::load(app).await?;
        let route = config.route_of_kind(model, ModelKind::Chat)?.clone();
        let mut request = translate(&route)?;
        check_targets(&route, &request)?;
        fetch_images(app, &route, &mut request).await?;
        let tokens = quota::estimate(&request);
        Ok(((route, request), tokens))
    };
    let ((route, request), reservation) = quota::admit(app, &caller.user, prepare).await?;
    let opened = router::open(app, &route, &request).await.map_err(ApiError::Upstream)?;
    let meter = Meter::new(app, Billing::Reserved(reservation), &route.name, estimate_prompt(&request));
    let events = futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest);
    let recording = cache.map(|key| Recording { app: app.clone(), key, events: Vec::new() });
    Ok(Call {
        model: route.name,
        cache: recording.as_ref().map(|_| CacheStatus::Miss),
        events: Box::pin(events),
        meter,
        recording,
    })
}

impl Call {
    /// A kept reply, replayed as fast as the client reads it.
    fn replay(app: &Arc<App>, user_id: Id, model: String, events: Vec<ProviderEvent>) -> Call {
        let meter = Meter::new(app, Billing::Cached(user_id), &model, 0);
        Call {
            model,
            cache: Some(CacheStatus::Hit),
            events: Box::pin(futures::stream::iter(events.into_iter().map(Ok))),
            meter,
            recording: None,
        }
    }

    /// The reply's next event, counted (and recorded for the cache on a miss).
    pub async fn next(&mut self) -> Option<Result<ProviderEvent, ProviderError>> {
        let Some(event) = self.events.next().await else {
            if let Some(recording) = self.recording.take() {
                recording.keep();
            }
            return None;
        };
        match &event {
            Ok(event) => {
                self.meter.observe(event);
                if let Some(recording) = &mut self.recording {
                    recording.events.push(event.clone());
                }
            }
            // A reply that failed is not kept.
            Err(_) => self.recording = None,
        }
        Some(event)
    }

    /// The usage so far: the provider's report, else an estimate.
    pub fn usage(&self) -> Usage {
        self.meter.usage()
    }

    /// Records the usage (the first time only: the reply is over) and returns it.
    pub fn finish(&mut self) -> Usage {
        self.meter.record()
    }
}

/// Refuses what one of the route's targets cannot honour (whichever target ends up
/// answering, the reply must be the one asked for).
fn check_targets(route: &ModelRoute, request: &ChatRequest) -> ApiResult<()> {
    for target in &route.targets {
        call::check(target, request).map_err(ApiError::InvalidRequest)?;
    }
    Ok(())
}

/// Fetches the bytes of every image given by URL, when a target takes images only as
/// bytes, through the guarded fetcher.
async fn fetch_images(app: &App, route: &ModelRoute, request: &mut ChatRequest) -> ApiResult<()> {
    if !route.targets.iter().any(call::inline_images) {
        return Ok(());
    }
    let images = request.messages.iter_mut().flat_map(|m| &mut m.parts).filter_map(|p| match p {
        Part::Image(image) if image.data.is_none() => Some(image),
        _ => None,
    });
    for image in images {
        let url = image.url.clone().unwrap_or_default();
        let refused = |why: String| ApiError::InvalidRequest(format!("image URL {url}: {why}"));
        let fetched = fetch::fetch(app, &url, app.config.fetch_max_image_bytes)
            .await
            .map_err(|e| refused(e.to_string()))?;
        let media_type = fetched.content_type.unwrap_or_default();
        check_image_type(&format!("image URL {url}"), &media_type)?;
        image.data = Some(ImageData { media_type, base64: STANDARD.encode(&fetched.body) });
    }
    Ok(())
}

/// A call's usage: what the provider reported, else estimated from the prompt and the
/// text so far. It is recorded once, when the reply ends, or when it is dropped early
/// because the client went away.
struct Meter {
    app: Arc<App>,
    /// Taken when the usage is recorded.
    billing: Option<Billing>,
    model: String,
    reported: Option<Usage>,
    prompt_estimate: u64,
    output_chars: u64,
}

/// What recording the usage settles: the tokens reserved for a provider's reply, or a
/// reply from the cache, which costs none.
enum Billing {
    Reserved(Reservation),
    Cached(Id),
}

impl Meter {
    fn new(app: &Arc<App>, billing: Billing, model: &str, prompt_estimate: u64) -> Meter {
        Meter {
            app: app.clone(),
            billing: Some(billing),
            model: model.to_string(),
            reported: None,
            prompt_estimate,
            output_chars: 0,
        }
    }

    fn observe(&mut self, event: &ProviderEvent) {
        match event {
            ProviderEvent::Text(t) => self.output_chars += t.chars().count() as u64,
            ProviderEvent::ToolCall(d) => {
                let name = d.name.as_deref().unwrap_or_default();
                self.output_chars += (name.chars().count() + d.arguments.chars().count()) as u64;
            }
            ProviderEvent::Usage(u) => self.reported = Some(*u),
            ProviderEvent::Finish(_) => {}
        }
    }

    fn usage(&self) -> Usage {
        self.reported.unwrap_or(Usage {
            input_tokens: self.prompt_estimate,
            output_tokens: self.output_chars.div_ceil(4),
        })
    }

    /// Records the usage (the first time only) and returns it.
    fn record(&mut self) -> Usage {
        let usage = self.usage();
        if let Some(billing) = self.billing.take() {
            let (app, model) = (self.app.clone(), self.model.clone());
            self.app.spawner.spawn(Box::pin(async move {
                let recorded = match billing {
                    Billing::Reserved(reservation) => reservation.settle(&model, usage).await,
                    Billing::Cached(user_id) => {
                        usage::add_cached(&app, app.clock.now().date(), user_id, &model).await
                    }
                };
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "usage could not be recorded");
                }
            }));
        }
        usage
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.record();
    }
}

/// A missed reply being read: kept for its key once it has ended whole.
struct Recording {
    app: Arc<App>,
    key: CacheKey,
    events: Vec<ProviderEvent>,
}

impl Recording {
    /// Keeps the reply, off the client's path; a reply that did not finish is not kept.
    fn keep(self) {
        if !self.events.iter().any(|e| matches!(e, ProviderEvent::Finish(_))) {
            return;
        }
        let app = self.app.clone();
        self.app.spawner.spawn(Box::pin(async move {
            if let Err(e) = cache::put(&app, &self.key, &self.events).await {
                tracing::warn!(error = %e, "a reply could not be kept in the response cache");
            }
        }));
    }
}
