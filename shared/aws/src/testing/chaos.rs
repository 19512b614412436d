//! A chaos proxy (after crates.io's): it forwards each request to the service behind
//! it (moto), but answers the ones a test chooses itself, with the service's real error
//! (DynamoDB's throttling, S3's `SlowDown`), or never answers them (a timeout). How the
//! adapters' handling of those errors is tested through their real clients.
//!
//! One request per connection: the proxy reads the request's head, decides, and either
//! answers it or hands the connection to the service with `Connection: close`, so every
//! request of a client's pool passes the decision.

use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy answers a chosen request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A whole answer: status, content type and body.
    Error { status: u16, content_type: &'static str, body: String },
    /// Nothing, ever: the connection stays open until the client gives up.
    Stall,
}

impl Answer {
    /// A DynamoDB error as DynamoDB sends it, e.g. `("ThrottlingException", 400)`.
    pub fn dynamo(code: &str, status: u16) -> Answer {
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected by the chaos proxy"}}"#
        );
        Answer::Error { status, content_type: "application/x-amz-json-1.0", body }
    }

    /// DynamoDB's throttling of a table's provisioned throughput.
    pub fn dynamo_throttled() -> Answer {
        Answer::dynamo("ProvisionedThroughputExceededException", 400)
    }

    /// An S3 error as S3 sends it, e.g. `("SlowDown", 503)`.
    pub fn s3(code: &str, status: u16) -> Answer {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>injected by the chaos proxy</Message><RequestId>chaos</RequestId></Error>"
        );
        Answer::Error { status, content_type: "application/xml", body }
    }
}

pub struct ChaosProxy {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
}

#[derive(Default)]
struct Plan {
    /// Requests whose head contains this text get that answer.
    rule: Option<(String, Answer)>,
    answered: usize,
}

impl ChaosProxy {
    /// A proxy on a free local port in front of `upstream` (`http://host:port`), on the
    /// current tokio runtime.
    pub async fn start(upstream: &str) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the chaos proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let plan = Arc::new(Mutex::new(Plan::default()));
        let shared = plan.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), shared.clone()));
            }
        });
        ChaosProxy { url, plan }
    }

    /// Answers every request whose head (request line and headers) contains `matching`
    /// with `answer`, until [`heal`](Self::heal). DynamoDB's operations are in the
    /// `X-Amz-Target` header (`DynamoDB_20120810.GetItem`); S3's in the request line.
    pub fn answer(&self, matching: &str, answer: Answer) {
        let mut plan = self.plan();
        plan.rule = Some((matching.to_string(), answer));
        plan.answered = 0;
    }

    /// Forwards every request again.
    pub fn heal(&self) {
        self.plan().rule = None;
    }

    /// How many requests the proxy answered itself since the last [`answer`](Self::answer):
    /// a client's tries, retries included.
    pub fn answered(&self) -> usize {
        self.plan().answered
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The answer chosen for a request with this head, counted; `None` to forward it.
fn choose(plan: &Mutex<Plan>, head: &str) -> Option<Answer> {
    let mut plan = plan.lock().unwrap_or_else(|p| p.into_inner());
    let answer = plan.rule.as_ref().filter(|(matching, _)| head.contains(matching.as_str()))?.1.clone();
    plan.answered += 1;
    Some(answer)
}

async fn serve(mut client: TcpStream, upstream: String, plan: Arc<Mutex<Plan>>) {
    let Some((head, rest)) = read_head(&mut client).await else { return };
    match choose(&plan, &head) {
        Some(Answer::Error { status, content_type, body }) => {
            drain_body(&mut client, &head, rest.len()).await;
            let answer = format!(
                "HTTP/1.1 {status} Chaos\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 x-amzn-RequestId: chaos\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(answer.as_bytes()).await;
            let _ = client.shutdown().await;
        }
        Some(Answer::Stall) => {
            // Held until the client closes it.
            let mut sink = [0u8; 1024];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        None => forward(client, &upstream, &head, &rest).await,
    }
}

/// Sends the request on to `upstream` as one request on its own connection, and its
/// answer back.
async fn forward(mut client: TcpStream, upstream: &str, head: &str, rest: &[u8]) {
    let Ok(mut service) = TcpStream::connect(upstream).await else { return };
    let lines = head
        .split("\r\n")
        .filter(|line| !line.is_empty() && !line.to_ascii_lowercase().starts_with("connection:"));
    let head: String =
        lines.map(|line| format!("{line}\r\n")).chain(["Connection: close\r\n\r\n".into()]).collect();
    if service.write_all(head.as_bytes()).await.is_err() || service.write_all(rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut service).await;
}

/// The request's head (without its blank line) and the bytes read past it.
async fn read_head(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = client.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        read.extend_from_slice(&buf[..n]);
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&read[..end + 2]).into_owned();
            return Some((head, read[end + 4..].to_vec()));
        }
    }
}

/// Reads the rest of a request's body (by its `Content-Length`), so that answering
/// before it was read cannot reset the connection under the answer.
async fn drain_body(client: &mut TcpStream, head: &str, already: usize) {
    let length = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
    });
    let mut left = length.unwrap_or(0).saturating_sub(already);
    let mut buf = [0u8; 4096];
    while left > 0 {
        match client.read(&mut buf).await {
            Ok(n) if n > 0 => left = left.saturating_sub(n),
            _ => return,
        }
    }
}
