//! The edge: the router and the four function Workers under `wrangler dev --local`
//! (workerd), on DynamoDB, S3 and Secrets Manager (moto), chatting with the mock
//! provider. The same scenario as on Lambda, what the router refuses by itself, and one
//! data set shared by a Lambda deployment and a Workers one.

use confab_tests::lambda::{AwsStack, spawn_lambda_app};
use confab_tests::scenario::{mock, openai, strangers_and_bad_input, user_scenario};
use confab_tests::workers::{HIGH_RATE_LIMIT, spawn_worker_app};
use confab_tests::*;
use futures::stream;

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_scenario_runs_on_workers() {
    let mock = mock().await;
    let aws = AwsStack::create().await;
    let overrides = [("CONFAB_STREAM_FLUSH_MS", "20")];
    let (app, stack) = spawn_worker_app(&aws, Some(&openai(&mock)), &overrides, HIGH_RATE_LIMIT).await;
    user_scenario(&app, &mock, &aws.bucket).await;
    drop(stack);
}

#[tokio::test(flavor = "multi_thread")]
async fn strangers_and_bad_input_are_refused_on_workers() {
    let aws = AwsStack::create().await;
    let (app, stack) =
        spawn_worker_app(&aws, None, &[("CONFAB_MAX_BODY_BYTES", "4096")], HIGH_RATE_LIMIT).await;
    strangers_and_bad_input(&app).await;
    drop(stack);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_router_refuses_by_itself_and_ids_every_request() {
    let aws = AwsStack::create().await;
    let (app, stack) = spawn_worker_app(&aws, None, &[("CONFAB_MAX_BODY_BYTES", "4096")], 40).await;

    // Paths no function serves, and methods no route of the path's function answers.
    for path in ["/", "/.env", "/wp-login.php", "/authx"] {
        assert_error_ctx(
            send(app.request(Method::GET, path)).await,
            StatusCode::NOT_FOUND,
            "not_found",
            path,
        )
        .await;
    }
    let refused = send(app.request(Method::DELETE, "/admin/users")).await;
    assert_eq!(header(&refused, "allow").as_deref(), Some("GET, PUT, PATCH, OPTIONS"));
    assert_error(refused, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    // Bodies over the cap: declared, or streamed without a length.
    let declared = app.request(Method::POST, "/auth/register").header("content-type", "application/json");
    assert_error(
        send(declared.body(vec![b' '; 5000])).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let chunks = stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let streamed = app
        .request(Method::POST, "/auth/register")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks));
    assert_error(send(streamed).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Request ids: the caller's when well formed, else the router's, the same the function logs.
    let given = send(app.request(Method::GET, "/auth/health").header("x-request-id", "trace-42")).await;
    assert_eq!(header(&given, "x-request-id").as_deref(), Some("trace-42"));
    let replaced = send(app.request(Method::GET, "/auth/health").header("x-request-id", "no spaces")).await;
    let made = header(&replaced, "x-request-id").expect("an id");
    assert!(made.len() == 26 && made != "no spaces", "{made}");
    let refused = send(app.request(Method::GET, "/nowhere")).await;
    assert!(header(&refused, "x-request-id").is_some(), "the router's own answers carry ids");
    assert!(stack.logs().contains("trace-42"), "the function logged the caller's id");

    // The per-address limit (40 a minute here) stops requests before any function runs.
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(send(app.request(Method::GET, "/sessions/health")).await);
    }
    let limited = statuses.into_iter().find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS);
    let limited = limited.expect("the 41st request in a minute is refused");
    assert_eq!(header(&limited, "retry-after").as_deref(), Some("60"));
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    drop(stack);
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_and_workers_share_one_data_set() {
    let (lambda, lambda_stack) = spawn_lambda_app(None, &[]).await;
    let (edge, workers) = spawn_worker_app(&lambda_stack.aws, None, &[], HIGH_RATE_LIMIT).await;

    // An account and a session made through Lambda sign in and read through the Workers.
    let ada = lambda.register("ada@example.com").await;
    let session =
        str_field(&lambda.create_session(&ada.access_token, json!({"title": "both ways"})).await, "id");
    let on_edge = edge.login("ada@example.com", PASSWORD).await;
    assert_eq!(on_edge.user()["id"], ada.user()["id"]);
    let read = edge.get_ok(&on_edge.access_token, &format!("/sessions/{session}")).await;
    assert_eq!(read["title"], "both ways");
    assert_eq!(edge.get_ok(&ada.access_token, "/auth/me").await["user"]["email"], "ada@example.com");

    // And back: what the Workers write, Lambda reads, with tokens either side signed.
    let renamed = send(
        edge.bearer(Method::PATCH, &format!("/sessions/{session}"), &on_edge.access_token)
            .json(&json!({"title": "renamed at the edge"})),
    )
    .await;
    assert_json(renamed, StatusCode::OK).await;
    let other =
        str_field(&edge.create_session(&on_edge.access_token, json!({"title": "edge-made"})).await, "id");
    let listed = lambda.get_ok(&ada.access_token, "/sessions").await;
    let titles: Vec<&str> =
        listed["items"].as_array().expect("items").iter().filter_map(|s| s["title"].as_str()).collect();
    assert!(titles.contains(&"renamed at the edge") && titles.contains(&"edge-made"), "{titles:?}");
    let key = edge.create_api_key(&on_edge.access_token, "made at the edge").await;
    assert_eq!(
        lambda.get_ok(&str_field(&key, "key"), &format!("/sessions/{other}")).await["title"],
        "edge-made"
    );
    drop((workers, lambda_stack));
}
