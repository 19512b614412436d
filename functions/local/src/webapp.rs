//! The web app's files, embedded in the binary at build time, served by the core's
//! `webapp` rules.

use bytes::Bytes;
use confab_core::http::Response;
use confab_core::webapp::WebApp;
use include_dir::{Dir, include_dir};
use std::sync::LazyLock;

static FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../web/app");

static APP: LazyLock<WebApp> = LazyLock::new(|| {
    WebApp::new(files(&FILES))
        .expect("web/app has an index.html (the e2e test webapp::paths_outside_the_api_serve_the_app)")
});

fn files(dir: &'static Dir<'static>) -> Vec<(String, Bytes)> {
    let mut all: Vec<(String, Bytes)> = dir
        .files()
        .map(|f| (f.path().to_string_lossy().replace('\\', "/"), Bytes::from_static(f.contents())))
        .collect();
    all.extend(dir.dirs().flat_map(files));
    all
}

pub fn answers(path: &str, headers: &http::HeaderMap) -> bool {
    WebApp::answers(path, headers.get(http::header::ACCEPT).and_then(|a| a.to_str().ok()))
}

pub fn respond(method: &http::Method, path: &str) -> Response {
    APP.respond(method, path)
}
