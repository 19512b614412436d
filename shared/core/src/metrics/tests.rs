use super::lines::{emf_line, json_line};
use super::*;
use crate::testing::ManualClock;
use serde_json::Value;
use std::collections::BTreeSet;
use utoipa::OpenApi;

fn metrics(sink: Option<Arc<dyn MetricsSink>>) -> Metrics {
    Metrics::new(Arc::new(ManualClock::at(1_750_000_000)), sink)
}

#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl MetricsSink for Lines {
    fn emit(&self, event: &Event<'_>) {
        self.0.lock().unwrap().push(emf_line("confab/test", event));
    }
}

#[test]
fn every_family_follows_prometheus_conventions() {
    for family in ALL {
        assert!(family.name.starts_with("confab_"), "{}", family.name);
        let suffix_ok = match family.kind {
            Kind::Counter => family.name.ends_with("_total"),
            Kind::Histogram => family.name.ends_with("_seconds"),
            Kind::Gauge => !family.name.ends_with("_total"),
        };
        assert!(suffix_ok, "{}", family.name);
        let dimensions = family.dimensions.iter().flat_map(|set| set.iter());
        assert!(
            dimensions.clone().all(|d| family.labels.contains(d)),
            "{}: a dimension is a label",
            family.name
        );
        assert!(!family.labels.contains(&"user_id") && !family.labels.contains(&"path"), "{}", family.name);
    }
}

#[test]
fn counters_and_histograms_render_as_prometheus_text() {
    let m = metrics(None);
    let labels = ["chat", "/chat/sessions/{id}/messages", "POST", "2xx"];
    m.record(&[Sample::new(&HTTP_REQUESTS, &labels, 1.0)]);
    m.record(&[Sample::new(&HTTP_REQUESTS, &labels, 1.0)]);
    m.record(&[Sample::new(&TIME_TO_FIRST_TOKEN, &["gpt", "openai"], 0.3)]);
    m.record(&[Sample::new(&TIME_TO_FIRST_TOKEN, &["gpt", "openai"], 7.0)]);
    let text = m.render();
    assert!(text.contains("# TYPE confab_http_requests_total counter\n"), "{text}");
    assert!(text.contains("# HELP confab_quota_refusals_total "), "families with no series are named too");
    assert!(text.contains(
        "confab_http_requests_total{function=\"chat\",route=\"/chat/sessions/{id}/messages\",method=\"POST\",status_class=\"2xx\"} 2\n"
    ), "{text}");
    assert!(text.contains("# TYPE confab_time_to_first_token_seconds histogram\n"));
    for line in [
        "confab_time_to_first_token_seconds_bucket{model=\"gpt\",provider=\"openai\",le=\"0.25\"} 0\n",
        "confab_time_to_first_token_seconds_bucket{model=\"gpt\",provider=\"openai\",le=\"0.5\"} 1\n",
        "confab_time_to_first_token_seconds_bucket{model=\"gpt\",provider=\"openai\",le=\"10\"} 2\n",
        "confab_time_to_first_token_seconds_bucket{model=\"gpt\",provider=\"openai\",le=\"+Inf\"} 2\n",
        "confab_time_to_first_token_seconds_sum{model=\"gpt\",provider=\"openai\"} 7.3\n",
        "confab_time_to_first_token_seconds_count{model=\"gpt\",provider=\"openai\"} 2\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert_eq!(m.value(&HTTP_REQUESTS, &labels), 2.0);
}

#[test]
fn label_values_are_escaped_cut_and_never_empty() {
    let m = metrics(None);
    m.record(&[Sample::new(&QUOTA_REFUSALS, &["a\"b\\c\nd"], 1.0)]);
    m.record(&[Sample::new(&QUOTA_REFUSALS, &[""], 1.0)]);
    let long = "x".repeat(1000);
    m.record(&[Sample::new(&QUOTA_REFUSALS, &[&long], 1.0)]);
    let text = m.render();
    assert!(text.contains(r#"confab_quota_refusals_total{limit="a\"b\\c\nd"} 1"#), "{text}");
    assert!(text.contains(r#"confab_quota_refusals_total{limit="none"} 1"#), "{text}");
    assert!(text.contains(&format!("{{limit=\"{}\"}} 1", "x".repeat(MAX_LABEL_CHARS))), "{text}");
    assert!(!text.contains(&"x".repeat(MAX_LABEL_CHARS + 1)));
}

#[test]
fn series_are_bounded_and_bad_samples_ignored() {
    let m = metrics(None);
    for i in 0..MAX_SERIES + 50 {
        m.record(&[Sample::new(&QUOTA_REFUSALS, &[&i.to_string()], 1.0)]);
    }
    assert_eq!(m.series.lock().unwrap().len(), MAX_SERIES);
    assert_eq!(m.value(&QUOTA_REFUSALS, &["0"]), 1.0, "existing series still count");
    m.record(&[Sample::new(&QUOTA_REFUSALS, &["0"], 1.0)]);
    assert_eq!(m.value(&QUOTA_REFUSALS, &["0"]), 2.0);
    let fresh = metrics(None);
    fresh.record(&[Sample::new(&QUOTA_REFUSALS, &["a", "extra"], 1.0)]);
    fresh.record(&[Sample::new(&QUOTA_REFUSALS, &["a"], f64::NAN)]);
    fresh.record(&[Sample::new(&QUOTA_REFUSALS, &["a"], -5.0)]);
    assert_eq!(fresh.value(&QUOTA_REFUSALS, &["a"]), 0.0, "counters never go down");
}

#[test]
fn routes_are_counted_by_template_never_by_raw_path() {
    let m = metrics(None);
    let id = "01J9ZC5X2Q9V8M7N6P5R4S3T2V";
    assert_eq!(m.route(&format!("/sessions/{id}")), "/sessions/{id}");
    assert_eq!(
        m.route(&format!("/chat/sessions/{id}/messages/{id}/cancel")),
        "/chat/sessions/{id}/messages/{message_id}/cancel"
    );
    assert_eq!(m.route("/auth/health"), "/{function}/health");
    assert_eq!(m.route("/auth/login"), "/auth/login");
    assert_eq!(m.route("/admin/metrics"), "/admin/metrics");
    assert_eq!(m.route("/openapi.json"), "/openapi.json");
    for path in
        ["/", "/wp-admin/setup.php", "/sessions/a/b/c/d/e", "/auth/login/extra", "/sessions//messages"]
    {
        assert_eq!(m.route(path), routes::OTHER, "{path}");
    }
    let doc = crate::routes::openapi::ApiDoc::openapi();
    let documented: BTreeSet<String> = doc.paths.paths.into_keys().chain(["/openapi.json".into()]).collect();
    assert_eq!(
        BTreeSet::from(routes::TEMPLATES.map(String::from)),
        documented,
        "one template per documented path"
    );
    let specific = RouteTemplates::new(["/sessions/{id}", "/sessions/search"]);
    assert_eq!(specific.template("/sessions/search"), "/sessions/search", "literals win");
    assert_eq!(method_label(&http::Method::PATCH), "PATCH");
    assert_eq!(method_label(&http::Method::from_bytes(b"BREW").unwrap()), "other");
    assert_eq!(status_class(http::StatusCode::IM_A_TEAPOT), "4xx");
}

#[test]
fn events_go_to_the_sink_as_emf_lines_and_gauges_do_not() {
    let lines = Arc::new(Lines::default());
    let m = metrics(Some(lines.clone()));
    m.record(&[
        Sample::new(&PROVIDER_ATTEMPTS, &["gpt", "openai"], 1.0),
        Sample::new(&TIME_TO_FIRST_TOKEN, &["gpt", "openai"], 0.25),
    ]);
    m.record(&[Sample::new(&CIRCUIT_OPEN, &["openai", "gpt-4o"], 1.0)]);
    let lines = lines.0.lock().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["kind"], "metrics");
    assert_eq!((line["model"].as_str(), line["provider"].as_str()), (Some("gpt"), Some("openai")));
    assert_eq!(line["confab_provider_attempts_total"], 1.0);
    assert_eq!(line["confab_time_to_first_token_seconds"], 0.25);
    let aws = &line["_aws"];
    assert_eq!(aws["Timestamp"], 1_750_000_000_000i64);
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 2);
    assert_eq!(directives[1]["Namespace"], "confab/test");
    assert_eq!(directives[1]["Metrics"][0]["Name"], "confab_time_to_first_token_seconds");
    assert_eq!(directives[1]["Metrics"][0]["Unit"], "Seconds");
    assert_eq!(directives[1]["Dimensions"], serde_json::json!([[], ["model", "provider"]]));
}

#[test]
fn json_lines_carry_the_trace_and_no_emf_directive() {
    let event = Event {
        at: time::OffsetDateTime::UNIX_EPOCH,
        samples: &[Sample::new(&QUOTA_REFUSALS, &["tokens_per_day"], 1.0)],
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    };
    let line: Value = serde_json::from_str(&json_line(&event)).unwrap();
    assert_eq!(line["limit"], "tokens_per_day");
    assert_eq!(line["confab_quota_refusals_total"], 1.0);
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(line.get("_aws").is_none());
}
