//! HTTP types and helpers shared by the handlers. Handlers are plain functions from
//! `Request` to `Response`; each runtime's entry point converts to and from these.

mod body;
pub mod cookies;
pub mod pagination;

pub use body::{Body, ByteStream};

use crate::error::{ApiError, ApiResult};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

pub type Request = http::Request<Bytes>;
pub type Response = http::Response<Body>;

/// The client's address, set by the entry point (socket peer locally, the CDN's
/// forwarded address in the cloud).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Set by an entry point that did not read a request's body: the request then carries
/// an empty body, and the body-limit middleware answers for the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyNotRead {
    /// Past the size limit: 413.
    TooLarge,
    /// Sent too slowly (the local server's `bodies` deadline): 408.
    TimedOut,
    /// No room to hold it: the entry point holds as many bodies in memory as it may
    /// (bodies are read before the caller is known). 503, retry in a moment.
    NoRoom,
}

/// Whether `path` is a session's attachments (`/sessions/{id}/attachments`): its upload
/// takes raw bytes, not JSON, so no method there is refused for a body's type.
pub fn is_attachments_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(segments[..], ["sessions", _, "attachments"])
}

/// Whether the request is an attachment upload (`POST /sessions/{id}/attachments`):
/// the one request whose body may pass `max_body_bytes`.
pub fn is_attachment_upload(method: &http::Method, path: &str) -> bool {
    method == http::Method::POST && is_attachments_path(path)
}

/// The most bytes a request's body may have: entry points stop reading past it.
pub fn body_limit(config: &crate::Config, method: &http::Method, path: &str) -> usize {
    if is_attachment_upload(method, path) { config.max_attachment_bytes } else { config.max_body_bytes }
}

/// The request id, set by the request-id middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The header that carries a request's id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Whether a caller's (or the edge router's) request id may be kept as is: short, and
/// safe in logs and headers.
pub fn request_id_is_well_formed(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

pub fn client_ip(req: &Request) -> IpAddr {
    req.extensions().get::<ClientIp>().map(|c| c.0).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// What per-client limits count a client by: its IPv4 address, or its IPv6 /64, since
/// one IPv6 subscriber usually holds a whole /64 (and could otherwise be 2^64 clients).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !u128::from(u64::MAX);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
        IpAddr::V4(v4) => v4.to_string(),
    }
}

pub fn request_id(req: &Request) -> String {
    req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
}

/// The JSON shape of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Also kept in an error response's extensions, for a layer that answers in another
/// API's error shape (Anthropic's, on `/v1/messages`).
#[derive(Serialize, Clone, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: what programs match on.
    pub code: &'static str,
    /// For humans; may change.
    pub message: String,
    /// The error's class in OpenAI's terms, so OpenAI clients raise the right exception.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => with_json_type(status, Bytes::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "response body could not be serialized");
            with_json_type(StatusCode::INTERNAL_SERVER_ERROR, Bytes::from_static(INTERNAL_ERROR_BODY))
        }
    }
}

const INTERNAL_ERROR_BODY: &[u8] = br#"{"error":{"code":"internal_error","message":"internal error"}}"#;

/// Marks a public answer (keys, the API description) cacheable for five minutes; every
/// other answer is `no-store` (the security-headers layer).
pub fn cacheable(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    resp
}

/// 302 to `location`, a URL or a path the caller has checked.
pub fn found(location: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    let location = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    resp.headers_mut().insert(header::LOCATION, location);
    resp
}

pub fn no_content() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

pub fn error_response(err: &ApiError) -> Response {
    if err.status().is_server_error() {
        tracing::error!(error = %err, "request failed");
    }
    let body = ErrorBody {
        error: ErrorDetail { code: err.code(), message: err.public_message(), kind: err.kind() },
    };
    let mut resp = json(err.status(), &body);
    resp.extensions_mut().insert(body.error);
    if let Some(secs) = err.retry_after() {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let ApiError::MethodNotAllowed { allow } = err
        && let Ok(allow) = HeaderValue::from_str(allow)
    {
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    resp
}

fn with_json_type(status: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::Full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Parses a JSON body into `T`. Size and content type were checked by middleware.
/// Every body is an object: serde would also read a struct from an array of its field
/// values, which no client means and the API description does not allow.
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> ApiResult<T> {
    if req.body().is_empty() {
        return Err(ApiError::InvalidRequest("request body is required".into()));
    }
    if req.body().trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::InvalidRequest("the body must be a JSON object".into()));
    }
    serde_json::from_slice(req.body()).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::InvalidRequest(format!("invalid body: {e}")),
        _ => ApiError::InvalidRequest(format!("malformed JSON: {e}")),
    })
}

/// For a field holding a struct: only a JSON object, not the array of field values
/// serde would also take (see [`parse_json`]). Use with `#[serde(default, deserialize_with = "…")]`.
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize;
    use serde::de::Error;
    let fields = Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)?;
    fields.map(|f| serde_json::from_value(serde_json::Value::Object(f)).map_err(D::Error::custom)).transpose()
}

/// An optional integer, also when JSON spells it as a whole float (`3.0`), which JSON
/// Schema's `integer` (and so the API description) allows.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    use serde::de::Error;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    let whole = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64);
    n.as_i64().or(whole).map(Some).ok_or_else(|| D::Error::custom(format!("{n} is not a whole number")))
}

/// Parses the query string into `T`.
pub fn parse_query<T: DeserializeOwned>(req: &Request) -> ApiResult<T> {
    serde_urlencoded::from_str(req.uri().query().unwrap_or(""))
        .map_err(|e| ApiError::InvalidRequest(format!("invalid query string: {e}")))
}

pub fn header_str(req: &Request, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}
