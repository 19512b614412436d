//! Quotas on the kit: a day's tokens reserved, settled and given back; refusals.

use super::{Reservation, admit};
use crate::chat::fixtures::user;
use crate::error::{ApiError, ApiResult};
use crate::http::{Body, error_response};
use crate::ports::Store;
use crate::providers::Usage;
use crate::repo::users::User;
use crate::repo::{quota, usage};
use crate::testing::{self, ManualClock, TestApp};
use std::time::Duration;

/// 2025-06-16 00:00:00 UTC.
const MIDNIGHT: i64 = 1_750_032_000;

/// Each test runs twice: counting in the store (Lambdas, Workers) and counting alone
/// in memory (the local server).
macro_rules! both_ways {
    ($($name:ident),* $(,)?) => {
        mod in_the_store {
            $(#[test] fn $name() { super::$name(false) })*
        }
        mod counting_alone {
            $(#[test] fn $name() { super::$name(true) })*
        }
    };
}

both_ways!(
    settling_replaces_the_reservation_with_the_real_count_lower_or_higher,
    a_reservation_dropped_unsettled_is_given_back,
    a_reservation_over_the_day_is_refused_until_midnight_and_holds_nothing,
    each_day_has_its_own_count_and_a_settlement_corrects_the_day_it_reserved_on,
    requests_per_minute_are_refused_until_the_next_minute,
    a_failed_preparation_holds_no_tokens,
);

fn app_at(unix: i64, alone: bool) -> TestApp {
    let app = testing::app().with_clock(ManualClock::at(unix));
    if alone { app.counting_alone() } else { app }.build()
}

async fn reserve(t: &TestApp, user: &User, tokens: u64) -> ApiResult<Reservation> {
    admit(&t.app, user, async { Ok(((), tokens)) }).await.map(|((), reservation)| reservation)
}

/// The user's count for the day `unix` falls on.
async fn day_count(t: &TestApp, user: &User, unix: i64) -> i64 {
    let day = time::OffsetDateTime::from_unix_timestamp(unix).unwrap().date();
    quota::add_tokens(&t.app, user.id, day, 0).await.unwrap()
}

fn usage(input_tokens: u64, output_tokens: u64) -> Usage {
    Usage { input_tokens, output_tokens }
}

fn settling_replaces_the_reservation_with_the_real_count_lower_or_higher(alone: bool) {
    let t = app_at(MIDNIGHT - 3600, alone);
    let ada = user(&t, 10_000);
    t.run(async {
        let first = reserve(&t, &ada, 1_000).await.unwrap();
        let second = reserve(&t, &ada, 500).await.unwrap();
        assert_eq!(day_count(&t, &ada, t.app.clock.now_unix()).await, 1_500);
        first.settle("gpt-4o-mini", usage(200, 100)).await.unwrap();
        assert_eq!(day_count(&t, &ada, t.app.clock.now_unix()).await, 800, "1000 reserved, 300 used");
        second.settle("gpt-4o-mini", usage(400, 300)).await.unwrap();
        assert_eq!(day_count(&t, &ada, t.app.clock.now_unix()).await, 1_000, "500 reserved, 700 used");
        let day = t.app.clock.now().date();
        let rows = usage::report(&t.app, day, day, Some(ada.id)).await.unwrap();
        let row = &rows[0];
        assert_eq!((row.model.as_str(), row.requests), ("gpt-4o-mini", 2));
        assert_eq!((row.input_tokens, row.output_tokens), (600, 400));
    });
}

fn a_reservation_dropped_unsettled_is_given_back(alone: bool) {
    let t = app_at(MIDNIGHT - 3600, alone);
    let ada = user(&t, 10_000);
    t.run(async { drop(reserve(&t, &ada, 1_000).await.unwrap()) });
    assert_eq!(t.run(day_count(&t, &ada, MIDNIGHT - 1)), 0);
}

fn a_reservation_over_the_day_is_refused_until_midnight_and_holds_nothing(alone: bool) {
    let t = app_at(MIDNIGHT - 90, alone);
    let ada = user(&t, 1_000);
    let held = t.run(reserve(&t, &ada, 800)).unwrap();
    let refused = t.run(reserve(&t, &ada, 201)).err().unwrap();
    assert!(matches!(refused, ApiError::RateLimited { retry_after: 90 }), "{refused:?}");
    assert_eq!(t.run(day_count(&t, &ada, MIDNIGHT - 1)), 800);
    t.run(reserve(&t, &ada, 200)).unwrap();

    let response = error_response(&refused);
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "90");
    let Body::Full(body) = response.body() else { panic!("a JSON body") };
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    drop(held);
}

fn each_day_has_its_own_count_and_a_settlement_corrects_the_day_it_reserved_on(alone: bool) {
    let t = app_at(MIDNIGHT - 10, alone);
    let ada = user(&t, 1_000);
    let yesterday = t.run(reserve(&t, &ada, 900)).unwrap();
    t.clock.advance(Duration::from_secs(20));
    let today = t.run(reserve(&t, &ada, 900)).expect("a new day, a new count");
    t.run(yesterday.settle("m", usage(100, 50))).unwrap();
    assert_eq!(t.run(day_count(&t, &ada, MIDNIGHT - 1)), 150);
    assert_eq!(t.run(day_count(&t, &ada, MIDNIGHT)), 900);
    let rows =
        t.run(usage::report(&t.app, t.app.clock.now().date(), t.app.clock.now().date(), None)).unwrap();
    assert_eq!(rows[0].requests, 1, "usage is reported on the day it was used");
    drop(today);
}

fn requests_per_minute_are_refused_until_the_next_minute(alone: bool) {
    let t = app_at(MIDNIGHT - 3600 + 45, alone);
    let mut ada = user(&t, 1_000_000);
    ada.quota.requests_per_minute = Some(2);
    for _ in 0..2 {
        t.run(reserve(&t, &ada, 10)).unwrap();
    }
    let refused = t.run(reserve(&t, &ada, 10)).err().unwrap();
    assert!(matches!(refused, ApiError::RateLimited { retry_after: 15 }), "{refused:?}");
    t.clock.advance(Duration::from_secs(15));
    t.run(reserve(&t, &ada, 10)).expect("a new minute");
}

fn a_failed_preparation_holds_no_tokens(alone: bool) {
    let t = app_at(MIDNIGHT - 3600, alone);
    let ada = user(&t, 1_000);
    let failed = t.run(admit(&t.app, &ada, async { Err::<((), u64), _>(ApiError::NotFound) }));
    assert!(matches!(failed, Err(ApiError::NotFound)));
    assert_eq!(t.run(day_count(&t, &ada, MIDNIGHT - 1)), 0);
}

#[test]
fn counting_alone_writes_nothing_on_the_path_and_the_report_writes_first() {
    let t = app_at(MIDNIGHT - 3600, true);
    let ada = user(&t, 10_000);
    let calls = t.faults.calls();
    t.run(async {
        let reservation = reserve(&t, &ada, 1_000).await.unwrap();
        reservation.settle("m", usage(20, 10)).await.unwrap();
    });
    assert_eq!(t.faults.calls(), calls + 1, "one read of the day's count, no write");
    let day = t.app.clock.now().date();
    let rows = t.run(usage::report(&t.app, day, day, Some(ada.id))).unwrap();
    assert_eq!((rows[0].requests, rows[0].input_tokens, rows[0].output_tokens), (1, 20, 10));
    let stored = t.run(t.store.get(&format!("QUOTA#{}", ada.id), &day.to_string())).unwrap();
    assert_eq!(stored.and_then(|item| item.int("tokens")), Some(30));
}
