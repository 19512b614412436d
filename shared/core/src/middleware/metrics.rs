use super::{Middleware, Next};
use crate::app::App;
use crate::http::{ErrorDetail, Request, Response};
use crate::metrics::{HTTP_ERRORS, HTTP_REQUEST_DURATION, HTTP_REQUESTS, Sample, method_label, status_class};
use crate::routes::Function;
use std::sync::Arc;

/// Counts every answer by function, route template, method and status class, times it
/// to its response head, and counts error answers by code.
pub struct RequestMetrics;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for RequestMetrics {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let path = req.uri().path();
        let function = Function::for_path(path).map_or("none", Function::name);
        let route = app.metrics.route(path);
        let method = method_label(req.method());
        let started = app.clock.now();
        let resp = next.run(app, req).await;
        let seconds = (app.clock.now() - started).as_seconds_f64();
        let code = resp.extensions().get::<ErrorDetail>().map(|e| e.code);
        let class = status_class(resp.status());
        let (counted, timed) = ([function, route, method, class], [function, route, method]);
        let errored = code.map(|code| [function, route, code]);
        let mut samples = vec![
            Sample::new(&HTTP_REQUESTS, &counted, 1.0),
            Sample::new(&HTTP_REQUEST_DURATION, &timed, seconds),
        ];
        if let Some(labels) = &errored {
            samples.push(Sample::new(&HTTP_ERRORS, labels, 1.0));
        }
        app.metrics.record(&samples);
        resp
    }
}
