//! What the `/v1` chat routes (OpenAI's chat completions, Anthropic's messages) share
//! once their request is read: the caller's right to the model, the model's route, the
//! quota, the call through the router with its fallbacks, and the usage accounting.

use super::v1_request::check_image_type;
use crate::app::App;
use crate::auth::Principal;
use crate::chat::context::estimate_prompt;
use crate::chat::models::{ModelKind, ModelRoute};
use crate::chat::quota::{self, Reservation};
use crate::chat::router;
use crate::error::{ApiError, ApiResult};
use crate::fetch;
use crate::providers::call;
use crate::providers::{ChatRequest, EventStream, ImageData, Part, ProviderError, ProviderEvent, Usage};
use crate::repo::routing;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use std::sync::Arc;

/// A call under way: the reply's events, metered as they are read.
pub struct Call {
    /// The model's name, as the client gave it.
    pub model: String,
    events: EventStream,
    meter: Meter,
}

/// Opens a call for `caller` to `model`: `translate` makes the provider-neutral
/// request for the model's route (its reply limit). Refused before any provider is called when
/// the caller may not use the model, a target cannot honour the request, or the quota
/// is spent.
pub async fn open(
    app: &Arc<App>,
    caller: &Principal,
    model: &str,
    translate: impl FnOnce(&ModelRoute) -> ApiResult<ChatRequest>,
) -> ApiResult<Call> {
    caller.check_model(model)?;
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
    let meter = Meter {
        app: app.clone(),
        reservation: Some(reservation),
        model: route.name.clone(),
        reported: None,
        prompt_estimate: estimate_prompt(&request),
        output_chars: 0,
    };
    let events = futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest);
    Ok(Call { model: route.name, events: Box::pin(events), meter })
}

impl Call {
    /// The reply's next event, counted.
    pub async fn next(&mut self) -> Option<Result<ProviderEvent, ProviderError>> {
        let event = self.events.next().await?;
        if let Ok(event) = &event {
            self.meter.observe(event);
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
    reservation: Option<Reservation>,
    model: String,
    reported: Option<Usage>,
    prompt_estimate: u64,
    output_chars: u64,
}

impl Meter {
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
        if let Some(reservation) = self.reservation.take() {
            let model = self.model.clone();
            self.app.spawner.spawn(Box::pin(async move {
                if let Err(e) = reservation.settle(&model, usage).await {
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
