//! An [`HttpClient`] that answers from a script and keeps what was sent.

use crate::ports::{Clock, Guarded, HttpClient, HttpError, HttpResponse};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;

/// One scripted response: its head, then its body part by part.
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: VecDeque<Part>,
}

enum Part {
    Bytes(Bytes),
    /// Waits on the clock before the next part.
    Pause(Duration),
    /// The connection breaks here.
    Error(HttpError),
    /// Nothing more ever arrives.
    Stall,
}

impl Reply {
    pub fn new(status: u16) -> Self {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        Reply { status, headers: HeaderMap::new(), body: VecDeque::new() }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.insert(name, HeaderValue::from_str(value).expect("a header value"));
        self
    }

    /// Appends a chunk of the body.
    pub fn body(mut self, chunk: impl Into<Bytes>) -> Self {
        self.body.push_back(Part::Bytes(chunk.into()));
        self
    }

    /// Appends each of `chunks` as a chunk of its own.
    pub fn chunks<C: Into<Bytes>>(self, chunks: impl IntoIterator<Item = C>) -> Self {
        chunks.into_iter().fold(self, Reply::body)
    }

    /// The body goes on only after `duration` on the clock.
    pub fn pause(mut self, duration: Duration) -> Self {
        self.body.push_back(Part::Pause(duration));
        self
    }

    /// The body breaks off with `error`.
    pub fn error(mut self, error: HttpError) -> Self {
        self.body.push_back(Part::Error(error));
        self
    }

    /// The body stops and never goes on (nor ends).
    pub fn stall(mut self) -> Self {
        self.body.push_back(Part::Stall);
        self
    }
}

enum Scripted {
    Reply(Reply),
    /// `send` fails with this error.
    Fail(HttpError),
    /// `send` never returns.
    Stall,
}

/// A request as [`FakeHttp`] received it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: OffsetDateTime,
    /// The guarded fetcher's mark.
    pub guarded: Option<Guarded>,
}

/// Answers each request with the next scripted response, in order, whatever its URL;
/// a request with none left is a test bug and panics.
pub struct FakeHttp {
    clock: Arc<dyn Clock>,
    script: Mutex<VecDeque<Scripted>>,
    sent: Mutex<Vec<Sent>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeHttp {
    /// Pauses in bodies wait on `clock`, and requests are stamped with its time.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        FakeHttp { clock, script: Mutex::default(), sent: Mutex::default() }
    }

    pub fn reply(&self, reply: Reply) {
        lock(&self.script).push_back(Scripted::Reply(reply));
    }

    /// The next request fails before any response (a refused connection, say).
    pub fn fail(&self, error: HttpError) {
        lock(&self.script).push_back(Scripted::Fail(error));
    }

    /// The next request gets no response, ever.
    pub fn stall(&self) {
        lock(&self.script).push_back(Scripted::Stall);
    }

    /// Every request received so far, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        lock(&self.sent).clone()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl HttpClient for FakeHttp {
    async fn send(&self, req: http::Request<Bytes>) -> Result<HttpResponse, HttpError> {
        let (head, body) = req.into_parts();
        let uri = head.uri.to_string();
        let guarded = head.extensions.get::<Guarded>().copied();
        let next = lock(&self.script).pop_front();
        let sent = Sent {
            method: head.method,
            uri: uri.clone(),
            headers: head.headers,
            body,
            at: self.clock.now(),
            guarded,
        };
        lock(&self.sent).push(sent);
        match next.unwrap_or_else(|| panic!("FakeHttp: no response scripted for {uri}")) {
            Scripted::Reply(reply) => Ok(HttpResponse {
                status: reply.status,
                headers: reply.headers,
                body: body_stream(self.clock.clone(), reply.body),
            }),
            Scripted::Fail(error) => Err(error),
            Scripted::Stall => futures::future::pending().await,
        }
    }
}

fn body_stream(clock: Arc<dyn Clock>, parts: VecDeque<Part>) -> crate::providers::BodyStream {
    Box::pin(futures::stream::unfold(Some(parts), move |parts| {
        let clock = clock.clone();
        async move {
            let mut parts = parts?;
            loop {
                match parts.pop_front()? {
                    Part::Bytes(bytes) => return Some((Ok(bytes), Some(parts))),
                    Part::Pause(duration) => clock.sleep(duration).await,
                    Part::Error(error) => return Some((Err(error), None)),
                    Part::Stall => futures::future::pending::<()>().await,
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::{FakeHttp, Reply};
    use crate::ports::{Clock, HttpClient, HttpError};
    use crate::testing::{ManualClock, Tasks, run};
    use bytes::Bytes;
    use futures::StreamExt;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn replies_in_order_with_pauses_and_errors_and_keeps_the_requests() {
        let clock = ManualClock::at(1_000);
        let http = FakeHttp::new(Arc::new(clock.clone()));
        http.reply(
            Reply::new(200).body("a").pause(Duration::from_secs(3)).body("b").error(HttpError::Timeout),
        );
        http.fail(HttpError::Connect("refused".into()));
        let request = |path: &str| http::Request::post(path).body(Bytes::from("hi")).unwrap();
        let chunks = run(&clock, &Tasks::default(), async {
            let response = http.send(request("https://a.example/x")).await.unwrap();
            response.body.map(|chunk| chunk.map_err(|e| e.to_string())).collect::<Vec<_>>().await
        });
        assert_eq!(chunks, [Ok(Bytes::from("a")), Ok(Bytes::from("b")), Err("timed out".into())]);
        assert_eq!(clock.now_unix(), 1_003);
        let refused = run(&clock, &Tasks::default(), http.send(request("https://b.example/y")));
        assert!(matches!(refused, Err(HttpError::Connect(_))));
        let sent = http.sent();
        assert_eq!(
            sent.iter().map(|s| s.uri.as_str()).collect::<Vec<_>>(),
            ["https://a.example/x", "https://b.example/y"]
        );
        assert_eq!((sent[0].body.as_ref(), sent[1].at.unix_timestamp()), (&b"hi"[..], 1_003));
    }
}
