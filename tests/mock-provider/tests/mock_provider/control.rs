//! The control API under `/_mock/`.

use crate::common;

use common::{client, openai, spawn};
use serde_json::{Value, json};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn scenarios_are_set_read_consumed_and_removed_over_http() {
    let mock = spawn().await;
    let url = format!("{}/_mock/scenarios/team%2Fmodel", mock.base_url());
    let scenario = json!({"reply": "scripted", "faults": [{"kind": "status", "status": 502, "repeat": 2}]});
    let put = client().put(&url).json(&scenario).send().await.unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(put.json::<Value>().await.unwrap(), scenario);

    assert_eq!(openai(&mock, chat("team/model")).await.status(), 502);
    let left: Value = client().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(left["faults"], json!([{"kind": "status", "status": 502}]), "one of the two left");
    assert_eq!(openai(&mock, chat("team/model")).await.status(), 502);
    let body: Value = openai(&mock, chat("team/model")).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "scripted");

    assert_eq!(client().delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(client().get(&url).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn invalid_scenarios_are_rejected() {
    let mock = spawn().await;
    let url = format!("{}/_mock/scenarios/m", mock.base_url());
    let bodies = [
        "not json".to_owned(),
        json!({"ttft": 5}).to_string(),
        json!({"faults": [{"kind": "explode"}]}).to_string(),
        json!({"faults": [{"kind": "status", "status": 429, "retry_after": 1}]}).to_string(),
        json!({"always": {"kind": "status", "status": 1000}}).to_string(),
        json!({"tool_calls": [{"name": "no spaces allowed"}]}).to_string(),
        json!({"tool_calls": [{"name": "f", "arguments": "{}"}]}).to_string(),
    ];
    for body in bodies {
        let response = client().put(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn requests_are_recorded_with_secrets_redacted() {
    let mock = spawn().await;
    openai(&mock, chat("recorded")).await;
    openai(&mock, chat("other")).await;
    let url = format!("{}/_mock/requests", mock.base_url());
    let recorded: Vec<Value> =
        client().get(format!("{url}?model=recorded")).send().await.unwrap().json().await.unwrap();
    assert_eq!(recorded.len(), 1);
    let request = &recorded[0];
    assert_eq!(request["provider"], "openai");
    assert_eq!(request["model"], "recorded");
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], "/v1/chat/completions");
    assert_eq!(request["api_key"], "sk-test");
    assert_eq!(request["headers"]["authorization"], "<redacted>");
    assert_eq!(request["headers"]["content-type"], "application/json");
    assert_eq!(request["body"], chat("recorded"));
    assert!(request["unix_ms"].is_u64());
    assert!(request.get("trace_id").is_none(), "no traceparent, no trace id");

    let all: Vec<Value> = client().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0]["seq"].as_u64() < all[1]["seq"].as_u64());

    let cleared = client().delete(format!("{url}?model=recorded")).send().await.unwrap();
    assert_eq!(cleared.status(), 204);
    assert_eq!(mock.all_requests().len(), 1);
    client().delete(&url).send().await.unwrap();
    assert!(mock.all_requests().is_empty());
}

#[tokio::test]
async fn health_answers() {
    let mock = spawn().await;
    let response = client().get(format!("{}/_mock/health", mock.base_url())).send().await.unwrap();
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let mock = spawn().await;
    for path in ["/v1/unknown", "/_mock/nothing", "/model/x/invoke-with-response-stream"] {
        let response = client().post(format!("{}{path}", mock.base_url())).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let mock = spawn().await;
    let url = format!("{}/_mock/health", mock.base_url());
    assert!(client().get(&url).send().await.is_ok());
    mock.shutdown().await;
    assert!(client().get(&url).send().await.is_err());
}
