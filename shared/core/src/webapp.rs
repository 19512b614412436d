//! Serving the web app: every path outside the API. The entry point owns the files
//! (the local server embeds `web/app` in its binary); this decides what each path
//! answers, so every runtime serves the app the same way.
//!
//! The app is native ES modules with no build step, so instead of hashing each file
//! name (which would mean rewriting every import) all files live under one hashed
//! folder, `/assets/<version>/…`, where the version is a hash of every file: a new
//! build is a new folder, so files may be cached for a year. `index.html` names that
//! folder and is never cached; any other path a browser opens is an app page and gets
//! `index.html`.

use crate::http::{Body, Response};
use crate::middleware::head::without_body;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The page's own policy: only its own scripts, styles and connections; no inline
/// script or eval; images may be `data:`/`blob:` (the MFA QR code is drawn as one).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";
const ASSETS: &str = "/assets/";
/// What `index.html` writes where the hashed folder goes.
const ASSETS_PLACEHOLDER: &str = "{{ASSETS}}";
const INDEX: &str = "index.html";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub struct WebApp {
    version: String,
    index: Bytes,
    files: BTreeMap<String, Bytes>,
}

impl WebApp {
    /// The app from its files (path relative to the app folder, contents); `None`
    /// without an `index.html`.
    pub fn new(files: impl IntoIterator<Item = (String, Bytes)>) -> Option<WebApp> {
        let files: BTreeMap<String, Bytes> = files.into_iter().collect();
        let version = version(&files);
        let index = std::str::from_utf8(files.get(INDEX)?).ok()?;
        let index = index.replace(ASSETS_PLACEHOLDER, &format!("{ASSETS}{version}"));
        Some(WebApp { version, index: Bytes::from(index), files })
    }

    /// Whether the app answers a request outside the API: its files, and pages for
    /// browsers (which ask for HTML when they open a page). Programs asking for
    /// anything else get the API's JSON 404, as an unknown API path would.
    pub fn answers(path: &str, accept: Option<&str>) -> bool {
        path.starts_with(ASSETS) || accept.is_some_and(|a| a.contains("text/html"))
    }

    /// The folder the current files are served under, `/assets/<version>`.
    pub fn assets_path(&self) -> String {
        format!("{ASSETS}{}", self.version)
    }

    /// The app as the files a static host serves (an S3 bucket, Workers' static
    /// assets): `index.html`, naming the hashed folder, and every file under it.
    pub fn static_files(&self) -> Vec<(String, Bytes)> {
        let folder = self.assets_path();
        let assets =
            self.files.iter().map(|(name, bytes)| (format!("{}/{name}", &folder[1..]), bytes.clone()));
        std::iter::once((INDEX.to_string(), self.index.clone())).chain(assets).collect()
    }

    /// The answer to a request for `path` outside the API.
    pub fn respond(&self, method: &Method, path: &str) -> Response {
        if let Some(refused) = refuse_method(method) {
            return refused;
        }
        let resp = match path.strip_prefix(ASSETS) {
            Some(rest) => self.asset(rest),
            None => page(self.index.clone()),
        };
        if method == Method::HEAD { without_body(resp) } else { resp }
    }

    /// A file of this version; another version's or an unknown file is a 404, never
    /// the page (a script answered with HTML would fail in confusing ways).
    fn asset(&self, rest: &str) -> Response {
        let file = rest.split_once('/').filter(|(v, _)| *v == self.version).map(|(_, f)| f);
        match file.and_then(|f| Some((f, self.files.get(f)?))) {
            Some((name, bytes)) => {
                let mut resp = respond(StatusCode::OK, content_type(name), bytes.clone());
                resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
                resp
            }
            None => plain(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

/// The file a static host holds for `path` outside the API: an asset's own path, for
/// any other (an app page) `/index.html`.
pub fn static_path(path: &str) -> &str {
    if path.starts_with(ASSETS) { path } else { "/index.html" }
}

/// A static host's answer made the app's: its status and body, with the headers
/// `respond` would have sent (the policy, and caching by what the file is).
pub fn static_headers(path: &str, status: StatusCode) -> Vec<(header::HeaderName, HeaderValue)> {
    let cache = match (status, path.starts_with(ASSETS)) {
        (StatusCode::OK, true) => IMMUTABLE,
        (StatusCode::OK, false) => "no-cache",
        _ => "no-store",
    };
    let mut headers = policy_headers();
    headers.push((header::CACHE_CONTROL, HeaderValue::from_static(cache)));
    headers
}

/// Only reads are answered: anything else gets 405 with `Allow`.
pub fn refuse_method(method: &Method) -> Option<Response> {
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(resp)
}

/// A hash of every file's name and contents: any change is a new version.
fn version(files: &BTreeMap<String, Bytes>) -> String {
    let mut hash = Sha256::new();
    for (name, bytes) in files {
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn page(index: Bytes) -> Response {
    let mut resp = respond(StatusCode::OK, "text/html; charset=utf-8", index);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    respond(status, "text/plain; charset=utf-8", Bytes::from_static(text.as_bytes()))
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    let mut resp = http::Response::new(Body::Full(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.extend(policy_headers());
    resp
}

/// What every answer of the app carries, wherever it is served from.
fn policy_headers() -> Vec<(header::HeaderName, HeaderValue)> {
    vec![
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // Share pages carry their token in the path: never send it on as a referrer.
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ]
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("txt") | Some("md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> WebApp {
        let files = [
            ("index.html", "<script src=\"{{ASSETS}}/js/main.js\"></script>"),
            ("js/main.js", "import './ui.js'"),
        ];
        WebApp::new(files.map(|(n, b)| (n.to_string(), Bytes::from_static(b.as_bytes())))).unwrap()
    }

    fn body(resp: &Response) -> &[u8] {
        match resp.body() {
            Body::Full(b) => b,
            Body::Stream(_) => panic!("a stream"),
        }
    }

    #[test]
    fn app_paths_get_the_page_naming_the_hashed_folder() {
        let app = app();
        for path in ["/", "/c/01J", "/settings", "/unknown/deep/path"] {
            let resp = app.respond(&Method::GET, path);
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
            assert_eq!(resp.headers()[header::CONTENT_SECURITY_POLICY], CSP);
            let expected = format!("<script src=\"{}/js/main.js\"></script>", app.assets_path());
            assert_eq!(body(&resp), expected.as_bytes());
        }
    }

    #[test]
    fn assets_are_immutable_under_their_version_only() {
        let app = app();
        let resp = app.respond(&Method::GET, &format!("{}/js/main.js", app.assets_path()));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        for path in ["/assets/000000000000/js/main.js", "/assets/js/main.js", "/assets/"] {
            assert_eq!(app.respond(&Method::GET, path).status(), StatusCode::NOT_FOUND, "{path}");
        }
        let missing = format!("{}/nothing.js", app.assets_path());
        assert_eq!(app.respond(&Method::GET, &missing).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn only_reads_are_answered_and_head_keeps_the_length() {
        let resp = app().respond(&Method::POST, "/");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()[header::ALLOW], "GET, HEAD");
        let app = app();
        let head = app.respond(&Method::HEAD, "/");
        assert_eq!(head.status(), StatusCode::OK);
        assert!(body(&head).is_empty());
        let length = body(&app.respond(&Method::GET, "/")).len().to_string();
        assert_eq!(head.headers()[header::CONTENT_LENGTH], length.as_str());
    }

    #[test]
    fn pages_are_for_browsers_and_files_for_anyone() {
        let browser = Some("text/html,application/xhtml+xml,*/*;q=0.8");
        assert!(WebApp::answers("/c/01J", browser));
        assert!(WebApp::answers("/assets/abc/js/main.js", None));
        assert!(WebApp::answers("/assets/abc/js/main.js", Some("*/*")));
        assert!(!WebApp::answers("/no/such/route", None));
        assert!(!WebApp::answers("/no/such/route", Some("application/json")));
        assert!(!WebApp::answers("/xyz/health", Some("*/*")));
    }

    #[test]
    fn static_files_are_the_page_and_the_hashed_folder() {
        let app = app();
        let files: BTreeMap<String, Bytes> = app.static_files().into_iter().collect();
        let folder = &app.assets_path()[1..];
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [format!("{folder}/index.html"), format!("{folder}/js/main.js"), "index.html".to_string()]
        );
        assert_eq!(files["index.html"], body(&app.respond(&Method::GET, "/")));
    }

    #[test]
    fn a_static_host_answers_as_the_app_would() {
        let app = app();
        for path in ["/", "/c/01J", &format!("{}/js/main.js", app.assets_path())] {
            let resp = app.respond(&Method::GET, path);
            let mut expected: Vec<_> =
                resp.headers().iter().filter(|(name, _)| *name != header::CONTENT_TYPE).collect();
            let headers = static_headers(path, StatusCode::OK);
            let mut got: Vec<_> = headers.iter().map(|(n, v)| (n, v)).collect();
            expected.sort_by_key(|(n, _)| n.as_str());
            got.sort_by_key(|(n, _)| n.as_str());
            assert_eq!(got, expected, "{path}");
        }
        assert_eq!(static_path("/c/01J"), "/index.html");
        assert_eq!(static_path("/assets/abc/js/main.js"), "/assets/abc/js/main.js");
        let missing = static_headers("/assets/abc/gone.js", StatusCode::NOT_FOUND);
        assert!(missing.contains(&(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))));
        assert!(refuse_method(&Method::GET).is_none());
        assert_eq!(refuse_method(&Method::DELETE).unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_version_follows_the_contents() {
        let other = WebApp::new([
            ("index.html".to_string(), Bytes::from_static(b"x")),
            ("js/main.js".to_string(), Bytes::from_static(b"changed")),
        ])
        .unwrap();
        assert_ne!(other.assets_path(), app().assets_path());
        assert!(WebApp::new([("a.js".to_string(), Bytes::new())]).is_none());
    }
}
