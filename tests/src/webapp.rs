//! The web app as any runtime must serve it (the local server from its binary, the
//! router Worker from its static assets): a browser gets the page on every path outside
//! the API (revalidated each time, under its own CSP); the files it names are
//! immutable; programs and API paths keep their JSON answers.

use crate::{Method, StatusCode, TestApp, Value, header, send};

pub async fn serves_the_app(app: &TestApp) {
    let page = |method, path| app.request(method, path).header("accept", "text/html,*/*;q=0.8");
    let pages =
        ["/", "/c/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/settings", "/console/users", "/share/abc", "/no/such"];
    let mut script = None;
    for path in pages {
        let resp = send(page(Method::GET, path)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-cache"), "{path}");
        let csp = header(&resp, "content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(header(&resp, "x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        let html = resp.text().await.unwrap();
        let src = html.split("<script type=\"module\" src=\"").nth(1).and_then(|s| s.split('"').next());
        script = Some(src.expect("the page loads its module").to_string());
    }
    let script = script.unwrap();
    assert!(script.starts_with("/assets/") && script.ends_with("/js/main.js"), "{script}");
    let resp = send(app.request(Method::GET, &script)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("public, max-age=31536000, immutable"));
    assert!(header(&resp, "content-type").is_some_and(|t| t.starts_with("text/javascript")));
    let stale = send(app.request(Method::GET, "/assets/000000000000/js/main.js")).await;
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    let post = send(page(Method::POST, "/settings")).await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    for (ctx, req) in [
        ("an API path", page(Method::GET, "/sessions/no/such/route")),
        ("a program", app.request(Method::GET, "/settings").header("accept", "application/json")),
    ] {
        let resp = send(req).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{ctx}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "not_found", "{ctx}");
    }
}
