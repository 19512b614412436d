//! Requests and responses between the Workers runtime's types and the core's.

use crate::in_flight::Guard;
use bytes::Bytes;
use confab_core::http::{Body, ClientIp};
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::net::IpAddr;
use worker::wasm_bindgen::JsCast;
use worker::{Env, Headers, Method, Request, RequestInit, RequestRedirect, Response};

/// The address Cloudflare saw the client connect from. Clients can't set it at the
/// edge; the function Workers are reached only through the router, which passes it on.
const CLIENT_IP_HEADER: &str = "cf-connecting-ip";

pub fn header_map(headers: &Headers) -> HeaderMap {
    headers
        .entries()
        .filter_map(|(name, value)| {
            Some((HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_str(&value).ok()?))
        })
        .collect()
}

/// A runtime request to `url`; an empty body is sent as none.
/// An outbound request; `manual_redirect` hands redirects back instead of following them.
pub fn request(
    url: &str,
    method: Method,
    headers: Headers,
    body: &[u8],
    manual_redirect: bool,
) -> worker::Result<Request> {
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if manual_redirect {
        init.with_redirect(RequestRedirect::Manual);
    }
    if !body.is_empty() {
        init.with_body(Some(worker::js_sys::Uint8Array::from(body).into()));
    }
    Request::new_with_init(url, &init)
}

pub fn client_ip(headers: &Headers) -> Option<IpAddr> {
    headers.get(CLIENT_IP_HEADER).ok().flatten()?.parse().ok()
}

/// The core's request: method, URL, headers, the client's address and the whole body.
pub fn to_core(req: &Request, body: Bytes) -> worker::Result<confab_core::http::Request> {
    let mut core = http::Request::new(body);
    *core.method_mut() = http::Method::from_bytes(req.method().as_ref().as_bytes())
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    *core.uri_mut() = req
        .url()?
        .as_str()
        .parse()
        .map_err(|e: http::uri::InvalidUri| worker::Error::RustError(e.to_string()))?;
    *core.headers_mut() = header_map(req.headers());
    if let Some(ip) = client_ip(req.headers()) {
        core.extensions_mut().insert(ClientIp(ip));
    }
    Ok(core)
}

/// The runtime's response. A streamed body holds `guard` until it ends or the client
/// goes, so the work it stands for counts as in flight.
pub fn to_worker(resp: confab_core::http::Response, guard: Option<Guard>) -> worker::Result<Response> {
    let (parts, body) = resp.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    let out = match body {
        // A null body: the runtime refuses any body, even an empty one, on 204 and 304.
        Body::Full(bytes) if bytes.is_empty() => Response::empty()?,
        Body::Full(bytes) => Response::from_bytes(bytes.to_vec())?,
        Body::Stream(chunks) => Response::from_stream(chunks.map(move |chunk| {
            let _held = &guard;
            Ok::<Vec<u8>, worker::Error>(chunk.to_vec())
        }))?,
    };
    Ok(out.with_status(parts.status.as_u16()).with_headers(headers))
}

/// The Worker's text vars and secrets (bindings of other kinds are objects).
pub fn vars(env: &Env) -> BTreeMap<String, String> {
    let entries = worker::js_sys::Object::entries(env.unchecked_ref());
    entries
        .iter()
        .filter_map(|entry| {
            let pair: worker::js_sys::Array = entry.unchecked_into();
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}
