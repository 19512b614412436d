//! The core's ports on the Workers runtime: clock, randomness, background tasks and
//! outbound HTTP (`fetch`).

use crate::in_flight::InFlight;
use bytes::Bytes;
use confab_core::ports::{BoxFuture, Clock, Guarded, HttpClient, HttpError, HttpResponse, Random, Spawner};
use futures::StreamExt;
use std::rc::Rc;
use std::time::Duration;
use time::OffsetDateTime;
use worker::{Date, Delay, Fetch, Headers, Method, Request};

/// `Date.now()`: on Workers it advances only across I/O, which is all the core times.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> OffsetDateTime {
        let nanos = i128::from(Date::now().as_millis()) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(Delay::from(duration))
    }
}

/// `crypto.getRandomValues`, through getrandom's `js` backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerRandom;

impl Random for WorkerRandom {
    fn fill(&self, buf: &mut [u8]) {
        // As natively: predictable bytes would be a security hole, so failing is fatal.
        if let Err(e) = getrandom::getrandom(buf) {
            panic!("the runtime's random source failed: {e}");
        }
    }
}

thread_local! {
    static IN_FLIGHT: Rc<InFlight> = Rc::default();
}

/// The isolate's unfinished work (see [`InFlight`]).
pub fn in_flight() -> Rc<InFlight> {
    IN_FLIGHT.with(Rc::clone)
}

/// Runs tasks on the isolate's event loop, counted in flight so requests keep the
/// isolate alive for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerSpawner;

impl Spawner for WorkerSpawner {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        let guard = in_flight().enter();
        worker::wasm_bindgen_futures::spawn_local(async move {
            task.await;
            drop(guard);
        });
    }
}

/// Outbound HTTP with the runtime's `fetch`; response bodies stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchClient;

#[async_trait::async_trait(?Send)]
impl HttpClient for FetchClient {
    async fn send(&self, req: http::Request<Bytes>) -> Result<HttpResponse, HttpError> {
        let request = to_fetch(req).map_err(|e| HttpError::Connect(e.to_string()))?;
        let mut resp = Fetch::Request(request).send().await.map_err(|e| HttpError::Connect(e.to_string()))?;
        let status = http::StatusCode::from_u16(resp.status_code())
            .map_err(|_| HttpError::Transport(format!("status {}", resp.status_code())))?;
        let headers = crate::convert::header_map(resp.headers());
        // A response without a body (204, 304) has no stream to read.
        let body = match resp.stream() {
            Ok(chunks) => chunks
                .map(|chunk| chunk.map(Bytes::from).map_err(|e| HttpError::Transport(e.to_string())))
                .boxed_local(),
            Err(_) => futures::stream::empty().boxed_local(),
        };
        Ok(HttpResponse { status, headers, body })
    }
}

fn to_fetch(req: http::Request<Bytes>) -> worker::Result<Request> {
    // The guarded fetcher follows redirects itself, checking each hop.
    let guarded = req.extensions().get::<Guarded>().is_some();
    let (parts, body) = req.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        let value =
            value.to_str().map_err(|_| worker::Error::RustError(format!("header {name} is not text")))?;
        headers.append(name.as_str(), value)?;
    }
    let method = Method::from(parts.method.to_string());
    crate::convert::request(&parts.uri.to_string(), method, headers, &body, guarded)
}
