//! `GET /sessions?query=`: words in titles and messages of the caller's own sessions,
//! as word beginnings in any case, all of them; a snippet per hit, pages newest first.

use confab_tests::*;

/// The ids and snippets of the caller's sessions matching `query`, and the next cursor.
async fn search(user: &TestUser<'_>, query: &str, extra: &str) -> (Vec<(String, String)>, Option<String>) {
    let path = format!("/sessions?query={}{extra}", query.replace(' ', "%20"));
    let page = user.get(&path).await.good().await;
    let items = page["items"].as_array().expect("items");
    let hits = items.iter().map(|i| (str_field(i, "id"), str_field(i, "snippet"))).collect();
    (hits, page["next_cursor"].as_str().map(String::from))
}

async fn ids(user: &TestUser<'_>, query: &str) -> Vec<String> {
    search(user, query, "").await.0.into_iter().map(|(id, _)| id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn words_in_titles_and_messages_find_the_callers_sessions() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let trip = ada.create_session(json!({"title": "Trip: Paris"})).await;
    ada.chat(&trip, "What time does the Eiffel Tower open?").await;
    let food = ada.create_session(json!({"title": "Cooking"})).await;
    ada.chat(&food, "A recipe for crêpes, please").await;
    eve.chat(&eve.create_session(json!({"title": "Paris too"})).await, "eiffel").await;

    let (hits, next) = search(&ada, "eiff", "").await;
    assert_eq!((hits.len(), next), (1, None));
    assert_eq!(hits[0].0, trip);
    assert!(hits[0].1.contains("Eiffel Tower"), "{}", hits[0].1);
    assert_eq!(ids(&ada, "EIFFEL").await, std::slice::from_ref(&trip));
    assert_eq!(search(&ada, "paris", "").await.0, [(trip.clone(), "Trip: Paris".to_string())]);
    assert_eq!(ids(&ada, "paris tower").await, std::slice::from_ref(&trip));
    assert!(ids(&ada, "paris crêpes").await.is_empty());
    assert_eq!(ids(&ada, "CRÊPES").await, std::slice::from_ref(&food));
    assert!(ids(&ada, "a").await.is_empty(), "one letter says nothing");
    assert_eq!(ids(&eve, "eiffel").await.len(), 1, "only eve's own");

    // A renamed session is found by its new title, not its old one.
    ada.patch(&format!("/sessions/{trip}"), &json!({"title": "Trip: Rome"})).await.good().await;
    assert!(ids(&ada, "paris").await.is_empty());
    assert_eq!(ids(&ada, "rome").await, std::slice::from_ref(&trip));

    // Archived sessions are searched apart, like they are listed.
    ada.patch(&format!("/sessions/{food}"), &json!({"archived": true})).await.good().await;
    assert!(ids(&ada, "crepes crêpes").await.is_empty());
    assert_eq!(search(&ada, "crêpes", "&archived=true").await.0.len(), 1);

    // A deleted session is found no more.
    assert_no_content(send(ada.request(Method::DELETE, &format!("/sessions/{trip}"))).await).await;
    assert!(ids(&ada, "eiffel").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn search_results_page_newest_first_without_repeats() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(ada.create_session(json!({"title": format!("banana bread {n}")})).await);
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (hits, next) = search(&ada, "banana", &format!("&limit=2&cursor={cursor}")).await;
        assert!(hits.len() <= 2);
        seen.extend(hits.into_iter().map(|(id, _)| id));
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(seen, made);

    let long = "w".repeat(201);
    assert_error(
        ada.get(&format!("/sessions?query={long}")).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_error(
        ada.get("/sessions?query=banana&cursor=nope").await,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
    )
    .await;
}
