//! The edge router's checks, made before any function Worker runs: which function
//! serves the path, whether that function answers the method at all, and whether a
//! declared body fits. The functions check again; the router saves them the work.

use confab_core::Function;
use confab_core::error::ApiError;
use confab_core::metrics::{EDGE_REFUSALS, Metrics, Sample};
use http::Method;
use std::net::IpAddr;

/// The service binding (in the top-level wrangler.toml) of each function Worker.
pub fn binding(function: Function) -> &'static str {
    match function {
        Function::Auth => "AUTH",
        Function::Chat => "CHAT",
        Function::Session => "SESSION",
        Function::Admin => "ADMIN",
    }
}

/// Every method some route of `function` answers (HEAD with GET), and OPTIONS for
/// CORS preflights.
pub fn methods(function: Function) -> &'static [Method] {
    match function {
        Function::Auth => &[Method::GET, Method::POST, Method::DELETE, Method::OPTIONS],
        Function::Chat => &[Method::GET, Method::POST, Method::OPTIONS],
        Function::Session => &[Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS],
        Function::Admin => {
            &[Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS]
        }
    }
}

/// The function for a request, or the error the router answers itself.
pub fn admit(method: &Method, path: &str) -> Result<Function, Rejected> {
    let function = Function::for_path(path).ok_or(Rejected { error: ApiError::NotFound })?;
    let answered = methods(function);
    if answered.contains(method) || (method == Method::HEAD && answered.contains(&Method::GET)) {
        Ok(function)
    } else {
        Err(Rejected { error: ApiError::method_not_allowed(answered) })
    }
}

/// A request the router answers without calling a function.
#[derive(Debug)]
pub struct Rejected {
    pub error: ApiError,
}

/// Counts a request the router answered itself: by the function its path belongs to
/// (`none` when no function's) and the error's code, both from fixed sets.
pub fn count_refusal(metrics: &Metrics, path: &str, error: &ApiError) {
    let function = Function::for_path(path).map_or("none", Function::name);
    metrics.record(&[Sample::new(&EDGE_REFUSALS, &[function, error.code()], 1.0)]);
}

/// What the per-address limit counts a client by: its IPv4 address, or its IPv6 /64,
/// since one IPv6 subscriber usually holds a whole /64.
pub fn rate_key(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unknown".into(), confab_core::http::client_key)
}

/// Whether the request may carry a body to the function (`fetch` refuses one on GET
/// and HEAD).
pub fn forwards_body(method: &Method) -> bool {
    method != Method::GET && method != Method::HEAD
}

/// Refuses a body whose declared length is over `max`, before reading any of it.
pub fn check_declared_length(content_length: Option<&str>, max: usize) -> Result<(), ApiError> {
    match content_length.map(|v| v.trim().parse::<u64>()) {
        None => Ok(()),
        Some(Ok(len)) if len <= max as u64 => Ok(()),
        Some(Ok(_)) => Err(ApiError::PayloadTooLarge(max)),
        Some(Err(_)) => Err(ApiError::InvalidRequest("content-length is not a number".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::metrics::{Event, lines};
    use confab_core::ports::MetricsSink;
    use confab_core::routes::openapi::ApiDoc;
    use confab_core::testing::ManualClock;
    use std::sync::{Arc, Mutex};
    use utoipa::OpenApi;

    #[test]
    fn every_documented_operation_passes_the_router() {
        let doc = ApiDoc::openapi();
        let mut checked = 0;
        let concrete_paths = doc.paths.paths.iter().flat_map(|(path, item)| {
            let prefixes: &[&str] =
                if path.starts_with("/{function}") { &["auth", "chat", "sessions", "admin"] } else { &[""] };
            prefixes
                .iter()
                .map(move |prefix| (path.replace("{function}", prefix).replace(['{', '}'], ""), item))
        });
        for (path, item) in concrete_paths {
            let operations = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (method, _) in operations.iter().filter(|(_, present)| *present) {
                let function = admit(method, &path).unwrap_or_else(|r| panic!("{method} {path}: {r:?}"));
                assert!(admit(&Method::OPTIONS, &path).is_ok(), "preflight of {path}");
                assert_eq!(Some(function), Function::for_path(&path));
                checked += 1;
            }
        }
        assert!(checked > 25, "only {checked} operations in the document");
    }

    #[test]
    fn methods_no_route_answers_are_refused_with_allow() {
        let rejected = admit(&Method::DELETE, "/chat/sessions").unwrap_err();
        let ApiError::MethodNotAllowed { allow } = rejected.error else { panic!("{rejected:?}") };
        assert_eq!(allow, "GET, HEAD, POST, OPTIONS");
        for method in [Method::TRACE, Method::CONNECT] {
            assert!(admit(&method, "/auth/login").is_err(), "{method}");
        }
        assert!(admit(&Method::HEAD, "/sessions").is_ok(), "HEAD goes wherever GET does");
    }

    #[test]
    fn refusals_are_counted_by_function_and_code_and_logged() {
        let lines = Arc::new(Lines::default());
        let metrics = Metrics::new(Arc::new(ManualClock::at(1_750_000_000)), Some(lines.clone()));
        let unknown = admit(&Method::GET, "/wp-login.php").unwrap_err().error;
        count_refusal(&metrics, "/wp-login.php", &unknown);
        count_refusal(
            &metrics,
            "/chat/sessions/x/messages",
            &check_declared_length(Some("11"), 10).unwrap_err(),
        );
        for _ in 0..2 {
            count_refusal(&metrics, "/auth/login", &ApiError::RateLimited { retry_after: 60 });
        }
        assert_eq!(metrics.value(&EDGE_REFUSALS, &["none", "not_found"]), 1.0);
        assert_eq!(metrics.value(&EDGE_REFUSALS, &["chat", "payload_too_large"]), 1.0);
        assert_eq!(metrics.value(&EDGE_REFUSALS, &["auth", "rate_limited"]), 2.0);
        let text = metrics.render();
        assert!(
            text.contains(r#"confab_edge_refusals_total{function="auth",code="rate_limited"} 2"#),
            "{text}"
        );
        assert!(!text.contains("wp-login"), "no raw path becomes a label: {text}");
        let lines = lines.0.lock().unwrap();
        assert_eq!(lines.len(), 4);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["kind"], "metrics");
        assert_eq!(first["function"], "none");
        assert_eq!(first["code"], "not_found");
        assert_eq!(first["confab_edge_refusals_total"], 1.0);
    }

    /// The JSON lines the Workers' sink would log.
    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl MetricsSink for Lines {
        fn emit(&self, event: &Event<'_>) {
            self.0.lock().unwrap().push(lines::json_line(event));
        }
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/", "/authx", "/.env", "/wp-admin/setup.php"] {
            let rejected = admit(&Method::GET, path).unwrap_err();
            assert!(matches!(rejected.error, ApiError::NotFound), "{path}");
        }
    }

    #[test]
    fn clients_are_counted_by_address_or_ipv6_network() {
        let key = |ip: &str| rate_key(Some(ip.parse().unwrap()));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"), "one /64, one count");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(rate_key(None), "unknown");
    }

    #[test]
    fn get_bodies_are_not_forwarded() {
        assert!(!forwards_body(&Method::GET) && !forwards_body(&Method::HEAD));
        assert!(forwards_body(&Method::POST) && forwards_body(&Method::DELETE));
    }

    #[test]
    fn declared_lengths_are_checked_before_reading() {
        assert!(check_declared_length(None, 10).is_ok());
        assert!(check_declared_length(Some("10"), 10).is_ok());
        assert!(matches!(check_declared_length(Some("11"), 10), Err(ApiError::PayloadTooLarge(10))));
        assert!(matches!(check_declared_length(Some("-1"), 10), Err(ApiError::InvalidRequest(_))));
        assert!(matches!(check_declared_length(Some("lots"), 10), Err(ApiError::InvalidRequest(_))));
    }
}
