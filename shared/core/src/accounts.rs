//! Deleting an account and everything it owns.
//!
//! A deletion first makes the account unusable in one conditional transaction (the
//! user record's `deleting` flag and a marker in `repo::deletions`): from then on
//! login, refresh, access tokens and API keys fail, and the email stays claimed until
//! the end, so nobody can register it while the old data is still going. Then
//! [`STEPS`] run in order, each deleting one batch (at most `repo::DELETE_BATCH`
//! items) per call, with the marker saved after every batch; a request runs them for a
//! short time budget and the scheduled sweep ([`sweep`]) carries on from the marker.
//! Every step is idempotent, so a run that dies part-way is finished by the next. The
//! last transaction removes the user record, the email claim and the marker. Audit
//! entries stay: they are the record of what happened.

use crate::app::App;
use crate::domain::{Email, Id};
use crate::error::{ApiError, ApiResult};
use crate::ports::BoxFuture;
use crate::repo::deletions::{self, Pending};
use crate::repo::users::{self, User};
use crate::repo::{
    Progress, api_keys, cache, exports, identities, password_resets, quota, refresh, search, sessions,
    throttle, usage,
};

/// How long a request spends deleting before it leaves the rest to the sweep.
pub const REQUEST_BUDGET_MS: i64 = 3_000;
/// How long one sweep spends on deletions (the sweep function runs for at most 60 s).
pub const SWEEP_BUDGET_MS: i64 = 30_000;
/// Most accounts one sweep looks at; the next sweep takes the rest.
const SWEEP_ACCOUNTS: u32 = 20;

/// One kind of data an account owns: each call deletes a batch of it, from the cursor
/// the previous call returned.
type Step = for<'a> fn(&'a App, &'a User, Option<String>) -> BoxFuture<'a, ApiResult<Progress>>;

/// Everything an account owns, one step per kind, in the order it is deleted. A new
/// kind of per-user data adds its line here. The password-reset step comes before the
/// user's own records because its pointer there is how it finds the link.
const STEPS: &[(&str, Step)] = &[
    ("sessions", |app, user, _| Box::pin(sessions::delete_batch_of_user(app, user.id))),
    ("blobs", |app, user, _| Box::pin(delete_blobs(app, user.id))),
    ("export_links", |app, user, c| Box::pin(exports::delete_links_of_user(app, user.id, c))),
    ("api_keys", |app, user, _| Box::pin(delete_api_keys(app, user.id))),
    ("logins", |app, user, c| Box::pin(refresh::delete_families(app, user.id, c))),
    ("refresh_tokens", |app, user, c| Box::pin(refresh::delete_tokens(app, user.id, c))),
    ("password_reset", |app, user, _| Box::pin(password_resets::delete_of_user(app, user.id))),
    ("quota", |app, user, c| Box::pin(quota::delete_of_user(app, user.id, c))),
    ("usage", |app, user, c| {
        Box::pin(usage::delete_of_user(app, user.id, user.created_at.date(), app.now().date(), c))
    }),
    ("chat_limits", |app, user, c| Box::pin(throttle::delete_user_windows(app, user.id, c))),
    ("login_failures", |app, user, c| Box::pin(delete_login_failures(app, user, c))),
    ("search_index", |app, user, c| Box::pin(search::delete_of_user(app, user.id, c))),
    ("response_cache", |app, user, c| Box::pin(cache::delete_of_user(app, user.id, c))),
    ("identities", |app, user, _| Box::pin(delete_identities(app, user.id))),
    ("user_records", |app, user, _| Box::pin(users::delete_records(app, user.id))),
];

async fn delete_blobs(app: &App, user_id: Id) -> ApiResult<Progress> {
    for prefix in sessions::user_blob_prefixes(user_id) {
        app.blobs.delete_prefix(&prefix).await?;
    }
    Ok(Progress::Done)
}

/// A user has few keys, so one call deletes them all.
async fn delete_api_keys(app: &App, user_id: Id) -> ApiResult<Progress> {
    api_keys::delete_all(app, user_id).await?;
    Ok(Progress::Done)
}

/// A user has one identity per provider at most.
async fn delete_identities(app: &App, user_id: Id) -> ApiResult<Progress> {
    identities::delete_all(app, user_id).await?;
    Ok(Progress::Done)
}

async fn delete_login_failures(app: &App, user: &User, cursor: Option<String>) -> ApiResult<Progress> {
    match Email::parse(&user.email) {
        Ok(email) => throttle::delete_failures(app, &email, cursor).await,
        Err(_) => Ok(Progress::Done),
    }
}

/// Deletes `user` (read at `version`): unusable at once, then as much as fits a
/// request's budget; the sweep deletes the rest. A failure after the account is marked
/// is logged, not answered: the sweep will finish the job.
pub async fn delete(app: &App, user: &User, version: u64) -> ApiResult<()> {
    deletions::start(app, user, version).await?;
    if let Err(e) = proceed(app, user.id, app.now_ms() + REQUEST_BUDGET_MS).await {
        tracing::warn!(error = %e, user_id = %user.id, "account deletion left for the sweep");
    }
    Ok(())
}

/// Runs the deletion of `user_id` from where it stopped, batch by batch, until it is
/// done (true) or `until_ms` has passed after a batch (false). Another run at work on
/// the same account makes this one stop.
pub async fn proceed(app: &App, user_id: Id, until_ms: i64) -> ApiResult<bool> {
    let Some((mut pending, mut version)) = deletions::get(app, user_id).await? else { return Ok(true) };
    let user = users::get_any(app, user_id).await?.map(|(user, _)| user);
    let Some(user) = user.filter(|u| u.deleting) else {
        deletions::finish(app, user_id, None, version).await?;
        return Ok(true);
    };
    loop {
        let Some((name, step)) = STEPS.get(pending.step) else {
            deletions::finish(app, user_id, Some(&user), version).await?;
            return Ok(true);
        };
        pending = match step(app, &user, pending.cursor.take()).await? {
            Progress::Done => Pending { step: pending.step + 1, cursor: None },
            Progress::More(cursor) => Pending { step: pending.step, cursor },
        };
        tracing::debug!(user_id = %user_id, step = name, "account deletion batch");
        match deletions::save(app, user_id, &pending, version).await? {
            Some(saved) => version = saved,
            None => return Ok(false),
        }
        if app.now_ms() >= until_ms {
            return Ok(false);
        }
    }
}

/// Carries on with the deletions requests left unfinished, within
/// [`SWEEP_BUDGET_MS`]; returns how many it finished. Fails, once it has tried them
/// all, if any deletion failed, so that a sweep which keeps failing shows.
pub async fn sweep(app: &App) -> ApiResult<usize> {
    let until = app.now_ms() + SWEEP_BUDGET_MS;
    let (mut finished, mut failed) = (0, 0);
    for user_id in deletions::pending(app, SWEEP_ACCOUNTS).await? {
        if app.now_ms() >= until {
            break;
        }
        match proceed(app, user_id, until).await {
            Ok(done) => finished += usize::from(done),
            Err(e) => {
                tracing::warn!(error = %e, user_id = %user_id, "account deletion failed; the next sweep retries");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(ApiError::Unavailable(format!("{failed} account deletions failed")));
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::proceed;
    use crate::auth::refresh::{self, Client};
    use crate::chat::fixtures::streaming_turn;
    use crate::domain::Email;
    use crate::ports::{Condition, Item};
    use crate::providers::Usage;
    use crate::repo::api_keys::{self, ApiKey};
    use crate::repo::password_resets::{self, Reset};
    use crate::repo::users::{self, NewUser, User};
    use crate::repo::{deletions, quota, sessions, throttle, usage};
    use crate::testing::{self, TestApp};
    use bytes::Bytes;

    /// An account owning some of every kind of data; returns it and its session's id.
    async fn account_with_everything(t: &TestApp) -> (User, String) {
        let app = &t.app;
        let email = Email::parse("ada@example.com").unwrap();
        let new = NewUser { email: email.clone(), name: None, password_hash: "hash".into() };
        let user = users::create(app, new).await.unwrap();
        let (owned, _, _) = streaming_turn(t, &user).await;
        let session_id = owned.session.id;
        // More than one batch in the session's partition.
        for n in 0..150 {
            let item = Item::new(sessions::pk(session_id), format!("MSG#{n:04}"), Default::default());
            app.store.put(item, Condition::NotExists).await.unwrap();
        }
        let blob = format!("{}messages/long", sessions::blob_prefix(user.id, session_id));
        app.blobs.put(&blob, "text/plain", Bytes::from("long text")).await.unwrap();
        let export = format!("{}e.json", sessions::export_prefix(user.id, session_id));
        app.blobs.put(&export, "application/json", Bytes::from("{}")).await.unwrap();
        for _ in 0..2 {
            let client = Client { ip: "192.0.2.1".into(), user_agent: Some("test".into()) };
            refresh::start_family(app, user.id, client).await.unwrap();
        }
        let key = ApiKey {
            id: app.new_id(),
            user_id: user.id,
            name: "k".into(),
            secret_hash: "h".into(),
            created_at: app.now(),
            scopes: Default::default(),
            models: None,
            expires_at: None,
            last_used_at: None,
        };
        api_keys::create(app, &key).await.unwrap();
        quota::add_tokens(app, user.id, app.now().date(), 5).await.unwrap();
        usage::add(app, app.now().date(), user.id, "echo", Usage { input_tokens: 1, output_tokens: 2 })
            .await
            .unwrap();
        let now = app.clock.now_unix();
        throttle::count_in_window(app, throttle::CHAT_SCOPE, &user.id.to_string(), now, now + 60)
            .await
            .unwrap();
        throttle::count_failure(app, &email, now + 60).await.unwrap();
        let reset = Reset { user_id: user.id, expires_at: now + 3600 };
        password_resets::create(app, "a reset token", &reset).await.unwrap();
        (user, session_id.to_string())
    }

    /// Items that name `needle` anywhere: keys, index keys or fields.
    fn items_naming(t: &TestApp, needle: &str) -> Vec<String> {
        t.store
            .items()
            .into_iter()
            .map(|i| format!("{} {} {:?} {}", i.pk, i.sk, i.gsi1, serde_json::Value::Object(i.data)))
            .filter(|text| text.contains(needle))
            .collect()
    }

    #[test]
    fn a_deletion_cut_short_after_one_batch_is_finished_by_the_sweep() {
        let t = testing::app().build();
        let (user, session) = t.run(account_with_everything(&t));
        let uid = user.id.to_string();
        assert!(items_naming(&t, &uid).len() > 10);
        assert!(items_naming(&t, "ada@example.com").len() >= 2, "the user and its email claim");

        let (stored, version) = t.run(users::get(&t.app, user.id)).unwrap().unwrap();
        t.run(deletions::start(&t.app, &stored, version)).unwrap();
        assert!(t.run(users::get(&t.app, user.id)).unwrap().is_none(), "gone for every purpose at once");
        // The clock stands still: a budget ending now stops after the first batch.
        let done = t.run(proceed(&t.app, user.id, t.app.now_ms())).unwrap();
        assert!(!done);
        assert!(!items_naming(&t, &session).is_empty(), "the session is not gone yet");

        let swept = t.run(crate::sweep::run(&t.app)).unwrap();
        assert_eq!(swept.accounts_deleted, 1);
        assert_eq!(items_naming(&t, &uid), Vec::<String>::new());
        assert_eq!(items_naming(&t, &session), Vec::<String>::new());
        assert_eq!(items_naming(&t, "ada@example.com"), Vec::<String>::new());
        assert_eq!(t.blobs.keys(), Vec::<String>::new());
        assert!(t.run(deletions::pending(&t.app, 10)).unwrap().is_empty());
        // A rerun after the end finds nothing to do.
        assert!(t.run(proceed(&t.app, user.id, t.app.now_ms())).unwrap());
    }

    #[test]
    fn every_step_may_run_again() {
        let t = testing::app().build();
        let (user, _) = t.run(account_with_everything(&t));
        let (stored, version) = t.run(users::get(&t.app, user.id)).unwrap().unwrap();
        t.run(deletions::start(&t.app, &stored, version)).unwrap();
        // A crash after each step's work but before its progress was saved reruns it.
        for (_, step) in super::STEPS {
            let mut cursor = None;
            while let crate::repo::Progress::More(next) = t.run(step(&t.app, &stored, cursor)).unwrap() {
                cursor = next;
            }
            t.run(step(&t.app, &stored, None)).unwrap();
        }
        assert!(t.run(proceed(&t.app, user.id, i64::MAX)).unwrap());
        assert_eq!(items_naming(&t, &user.id.to_string()), Vec::<String>::new());
    }
}
