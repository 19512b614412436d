//! How a planned reply reaches the client, for every wire format alike: the token schedule,
//! streaming, and the faults.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::mpsc;
use tokio::time::{sleep, sleep_until};

use crate::dialect::{ApiError, Body, Dialect, json_response};
use crate::plan::Plan;
use crate::scenario::Fault;

/// The service's error: the connection is closed without a response.
#[derive(Debug)]
pub(crate) struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused by a mock fault")
    }
}

impl std::error::Error for Refused {}

/// How a reply that a fault interrupts ends.
enum Cut {
    Drop,
    Stall,
    Error(ApiError),
}

/// A fault that lets `after` tokens through, then cuts the reply.
struct Interruption {
    after: usize,
    cut: Cut,
}

/// Answers with the planned reply, streamed or not, as the fault (if any) dictates.
pub(crate) async fn respond<D: Dialect>(
    dialect: D,
    plan: Plan,
    stream: bool,
    fault: Option<Fault>,
) -> Result<Response<Body>, Refused> {
    let interruption = match fault {
        None => None,
        Some(Fault::Refuse) => return Err(Refused),
        Some(Fault::Status { status, retry_after_s, message }) => {
            let mut error = ApiError::from_status(status).retry_after(retry_after_s);
            error.message = message;
            return Ok(D::error_response(&error));
        }
        Some(Fault::DropAfter { tokens }) => Some(Interruption { after: tokens, cut: Cut::Drop }),
        Some(Fault::StallAfter { tokens }) => Some(Interruption { after: tokens, cut: Cut::Stall }),
        Some(Fault::ErrorEventAfter { tokens, status }) => {
            let error = ApiError::from_status(status.unwrap_or(D::OVERLOADED));
            Some(Interruption { after: tokens, cut: Cut::Error(error) })
        }
    };
    Ok(match stream {
        true => streaming(dialect, plan, interruption),
        false => buffered(dialect, plan, interruption).await,
    })
}

/// A non-streaming reply: the whole body once the last token is due. A fault acts when its
/// token count is reached: an error response, a stall before any byte, or the response head and
/// half the body followed by an abort.
async fn buffered<D: Dialect>(dialect: D, plan: Plan, interruption: Option<Interruption>) -> Response<Body> {
    let emitted = interruption.as_ref().map_or(plan.tokens.len(), |i| i.after.min(plan.tokens.len()));
    sleep_until(plan.deadline(emitted)).await;
    let complete = || json_response(StatusCode::OK, &dialect.complete(&plan), D::headers(&plan), None);
    let Some(Interruption { cut, .. }) = interruption else {
        return complete();
    };
    match cut {
        Cut::Error(error) => D::error_response(&error),
        Cut::Stall => std::future::pending().await,
        Cut::Drop => {
            let (parts, body) = complete().into_parts();
            let bytes = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
            let full_length = bytes.len();
            let (sink, body) = channel_body();
            tokio::spawn(async move {
                let _ = sink.send(bytes.slice(..full_length / 2)).await;
                let _ = sink.abort().await;
            });
            let mut response = Response::from_parts(parts, body);
            response.headers_mut().insert(CONTENT_LENGTH, full_length.into());
            response
        }
    }
}

/// A streaming reply: headers and the opening events at once, then each token when due.
fn streaming<D: Dialect>(dialect: D, plan: Plan, interruption: Option<Interruption>) -> Response<Body> {
    let (sink, body) = channel_body();
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, D::STREAM_CONTENT_TYPE)
        .header(CACHE_CONTROL, "no-cache");
    for (name, value) in D::headers(&plan) {
        builder = builder.header(name, value);
    }
    tokio::spawn(async move {
        let _ = produce(&dialect, &plan, interruption, &sink).await;
    });
    builder.body(body).expect("static response parts are valid")
}

async fn produce<D: Dialect>(
    dialect: &D,
    plan: &Plan,
    interruption: Option<Interruption>,
    sink: &Sink,
) -> Result<(), Gone> {
    sink.send_all(dialect.stream_open(plan)).await?;
    let count = plan.tokens.len();
    let stop = interruption.as_ref().map_or(count, |i| i.after.min(count));
    for index in 0..stop {
        sleep_until(plan.deadline(index + 1)).await;
        let last = index + 1 == count && interruption.is_none();
        sink.send(dialect.stream_token(plan, index, last)).await?;
    }
    let Some(Interruption { cut, .. }) = interruption else {
        return sink.send_all(dialect.stream_close(plan)).await;
    };
    sleep_until(plan.deadline(stop)).await;
    match cut {
        Cut::Drop => sink.abort().await,
        Cut::Stall => {
            sink.hold().await;
            Ok(())
        }
        Cut::Error(error) => sink.send(dialect.stream_error(plan, stop, &error)).await,
    }
}

/// The client went away.
struct Gone;

type Chunk = Result<Frame<Bytes>, io::Error>;

/// The producing end of a response body fed from a task.
struct Sink {
    sender: mpsc::Sender<Chunk>,
    /// Set when the connection last polled the body and found nothing to send.
    idle: Arc<AtomicBool>,
}

const CHANNEL_CAPACITY: usize = 32;

fn channel_body() -> (Sink, Body) {
    let (sender, mut receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let idle = Arc::new(AtomicBool::new(false));
    let polled = idle.clone();
    let frames = stream::poll_fn(move |cx| {
        let next = receiver.poll_recv(cx);
        polled.store(next.is_pending(), Ordering::Release);
        next
    });
    (Sink { sender, idle }, BodyExt::boxed(StreamBody::new(frames)))
}

impl Sink {
    async fn send(&self, bytes: Bytes) -> Result<(), Gone> {
        self.sender.send(Ok(Frame::data(bytes))).await.map_err(|_| Gone)
    }

    async fn send_all(&self, chunks: Vec<Bytes>) -> Result<(), Gone> {
        for chunk in chunks {
            self.send(chunk).await?;
        }
        Ok(())
    }

    /// Fails the body, so the connection is torn down without the end of the body, once the
    /// connection has taken everything sent and come back for more. hyper flushes its buffer in
    /// the very poll that finds the body empty, and drops it when the body fails, so waiting
    /// for that point is what lets the tokens sent so far reach the client.
    async fn abort(&self) -> Result<(), Gone> {
        while !(self.sender.capacity() == CHANNEL_CAPACITY && self.idle.load(Ordering::Acquire)) {
            if self.sender.is_closed() {
                return Err(Gone);
            }
            sleep(Duration::from_millis(1)).await;
        }
        let error = io::Error::new(io::ErrorKind::ConnectionAborted, "mock fault: drop_after");
        self.sender.send(Err(error)).await.map_err(|_| Gone)
    }

    /// Sends nothing more until the client goes away.
    async fn hold(&self) {
        self.sender.closed().await;
    }
}
