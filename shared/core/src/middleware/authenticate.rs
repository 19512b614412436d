use crate::app::App;
use crate::auth::jwt::Access;
use crate::auth::principal::Via;
use crate::auth::refresh;
use crate::auth::{Principal, api_keys, jwt};
use crate::error::{ApiError, ApiResult};
use crate::http::cookies::{self, ACCESS};
use crate::http::{Request, header_str};
use crate::repo::refresh::Family;
use crate::repo::users;
use http::{HeaderName, Method, header};

/// The caller from `Authorization: Bearer` (access token or API key), `x-api-key` (an
/// API key, as Anthropic's clients send it) or the access cookie. A bad bearer or key
/// is 401 at once; a stale cookie is ignored so a browser can still log in.
/// Cookie-authenticated writes need the login's CSRF token.
pub async fn caller(app: &App, req: &Request) -> ApiResult<Option<Principal>> {
    if let Some(value) = header_str(req, header::AUTHORIZATION) {
        let token = bearer(value).ok_or(ApiError::Unauthorized)?;
        if token.starts_with(api_keys::PREFIX) {
            return api_key_user(app, req, token).await.map(Some);
        }
        let access = jwt::verify(app, token).await?;
        let (principal, _) = signed_in_user(app, access, Via::Bearer).await?;
        return principal.map(Some).ok_or(ApiError::Unauthorized);
    }
    if let Some(key) = header_str(req, API_KEY_HEADER) {
        return api_key_user(app, req, key.trim()).await.map(Some);
    }
    let Some(token) = cookies::get(req, ACCESS) else { return Ok(None) };
    let access = match jwt::verify(app, token).await {
        Ok(access) => access,
        Err(ApiError::Unauthorized) => return Ok(None),
        Err(e) => return Err(e),
    };
    match signed_in_user(app, access, Via::Cookie).await? {
        (Some(_), Some(family))
            if !is_safe(req.method()) && !family.csrf_matches(cookies::csrf_presented(req)) =>
        {
            Err(ApiError::CsrfFailed)
        }
        (principal, _) => Ok(principal),
    }
}

/// Anthropic's header for an API key.
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The token of an `Authorization: Bearer` value; the scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The owner of an API key, if the key may make this request: the one place where
/// scopes and expiry are enforced, for every function and every route.
async fn api_key_user(app: &App, req: &Request, token: &str) -> ApiResult<Principal> {
    let (user_id, key_id, secret) = api_keys::parse(token).ok_or(ApiError::Unauthorized)?;
    let (key_ok, user) =
        futures::join!(api_keys::verify(app, user_id, key_id, secret), users::get(app, user_id));
    // A key from before the account was last disabled stays dead, even if its
    // revocation did not finish.
    let ((key, version), user) = match (key_ok?, user?) {
        (Some((key, version)), Some((user, _))) if user.accepts(key.created_at.unix_timestamp()) => {
            ((key, version), user)
        }
        _ => return Err(ApiError::Unauthorized),
    };
    api_keys::admit(app, &key, req.method(), req.uri().path())?;
    api_keys::note_use(app, &key, version).await;
    Ok(Principal { user, via: Via::ApiKey, family_id: None, models: key.models })
}

/// The user of an access token and its login, read at once: a disabled user, a token
/// from before the account was last disabled, or a revoked login is refused on the
/// spot, not when the token expires.
async fn signed_in_user(
    app: &App,
    access: Access,
    via: Via,
) -> ApiResult<(Option<Principal>, Option<Family>)> {
    let (user, family) =
        futures::join!(users::get(app, access.user_id), refresh::active_family(app, access.family_id));
    let (user, family) = (user?, family?);
    let login_ok = family.as_ref().is_some_and(|f| f.user_id == access.user_id);
    let principal = user
        .map(|(user, _)| user)
        .filter(|u| login_ok && u.accepts(access.issued_at))
        .map(|user| Principal { user, via, family_id: Some(access.family_id), models: None });
    Ok((principal, family))
}

#[cfg(test)]
mod tests {
    use super::caller;
    use crate::app::App;
    use crate::auth::api_keys::{self, Grant};
    use crate::domain::{Email, Id, ModelAllowlist, Scopes};
    use crate::error::ApiError;
    use crate::http::Request;
    use crate::ports::{Condition, Item};
    use crate::repo::users::{self, NewUser};
    use crate::testing::{self, TestApp};
    use bytes::Bytes;
    use futures::FutureExt;
    use http::Method;
    use std::time::Duration;

    fn request(method: Method, path: &str, key: &str) -> Request {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"));
        req.body(Bytes::new()).unwrap()
    }

    async fn user(app: &App) -> Id {
        let email = Email::parse("ada@example.com").unwrap();
        users::create(app, NewUser { email, name: None, password_hash: "x".into() }).await.unwrap().id
    }

    async fn key(app: &App, user_id: Id, grant: Grant) -> (Id, String) {
        let (record, key) = api_keys::create(app, user_id, "k".into(), grant).await.unwrap();
        (record.id, key)
    }

    fn default_grant() -> Grant {
        Grant { scopes: Scopes::default(), models: None, expires_at: None }
    }

    fn version(t: &TestApp, key_id: Id) -> u64 {
        t.store.items().iter().find(|i| i.pk == format!("APIKEY#{key_id}")).map(|i| i.version).unwrap()
    }

    fn error(result: Result<Option<crate::auth::Principal>, ApiError>) -> &'static str {
        result.err().map(|e| e.code()).unwrap_or("accepted")
    }

    #[test]
    fn last_use_is_written_at_most_once_a_minute() {
        let t = testing::app().build();
        t.run(async {
            let (key_id, key) = key(&t.app, user(&t.app).await, default_grant()).await;
            let req = request(Method::GET, "/sessions", &key);
            let use_key = || caller(&t.app, &req);
            assert_eq!(version(&t, key_id), 1);
            use_key().await.unwrap();
            assert_eq!(version(&t, key_id), 2, "the first use is recorded");
            t.clock.advance(Duration::from_secs(59));
            use_key().await.unwrap();
            assert_eq!(version(&t, key_id), 2, "a use within the minute writes nothing");
            t.clock.advance(Duration::from_secs(2));
            use_key().await.unwrap();
            assert_eq!(version(&t, key_id), 3, "a use a minute later is recorded");
            let (stored, _) = crate::repo::api_keys::get(&t.app, key_id).await.unwrap().unwrap();
            assert_eq!(stored.last_used_at, Some(t.app.now()));
        });
    }

    #[test]
    fn a_lost_race_to_record_a_use_does_not_fail_the_request() {
        let t = testing::app().build();
        t.run(async {
            let user_id = user(&t.app).await;
            let (key_id, key) = key(&t.app, user_id, default_grant()).await;
            // Another instance records a use after this one read the key (the user is
            // read just after it), so this one's conditional write fails.
            let (store, pk) = (t.app.store.clone(), format!("APIKEY#{key_id}"));
            t.store.before_get(&format!("USER#{user_id}"), "USER", move || {
                let item = store.get(&pk, "APIKEY").now_or_never().unwrap().unwrap().unwrap();
                store.put(item, Condition::Always).now_or_never().unwrap().unwrap();
            });
            let principal = caller(&t.app, &request(Method::GET, "/sessions", &key)).await.unwrap();
            assert!(principal.is_some());
            let (stored, version) = crate::repo::api_keys::get(&t.app, key_id).await.unwrap().unwrap();
            assert_eq!((version, stored.last_used_at), (2, None), "only the other instance wrote");
        });
    }

    #[test]
    fn expiry_is_judged_by_the_clock_port() {
        let t = testing::app().build();
        t.run(async {
            let expires_at = Some(t.app.now() + time::Duration::seconds(30));
            let grant = Grant { expires_at, ..default_grant() };
            let (_, key) = key(&t.app, user(&t.app).await, grant).await;
            let req = request(Method::GET, "/sessions", &key);
            assert!(caller(&t.app, &req).await.unwrap().is_some());
            t.clock.advance(Duration::from_secs(30));
            assert_eq!(error(caller(&t.app, &req).await), "api_key_expired");
        });
    }

    #[test]
    fn scopes_and_models_come_from_the_key() {
        let t = testing::app().build();
        t.run(async {
            let scopes = Scopes::parse(&["sessions:read".into()]).unwrap();
            let models = Some(ModelAllowlist::parse(&["fast".into()]).unwrap());
            let (_, key) = key(&t.app, user(&t.app).await, Grant { scopes, models, expires_at: None }).await;
            let read = caller(&t.app, &request(Method::GET, "/sessions", &key)).await.unwrap().unwrap();
            assert!(read.may_use("fast") && !read.may_use("smart"));
            for (method, path) in
                [(Method::POST, "/sessions"), (Method::GET, "/v1/models"), (Method::GET, "/admin/users")]
            {
                let refused = caller(&t.app, &request(method.clone(), path, &key)).await;
                assert_eq!(error(refused), "insufficient_scope", "{method} {path}");
            }
        });
    }

    #[test]
    fn a_key_stored_before_scopes_has_the_default_ones() {
        let t = testing::app().build();
        t.run(async {
            let (key_id, key) = key(&t.app, user(&t.app).await, default_grant()).await;
            let pk = format!("APIKEY#{key_id}");
            let mut item: Item = t.store.items().into_iter().find(|i| i.pk == pk).unwrap();
            for field in ["scopes", "models", "expires_at", "last_used_at"] {
                item.data.remove(field);
            }
            t.app.store.put(item, Condition::Always).await.unwrap();
            for (method, path) in
                [(Method::POST, "/chat/sessions/x/messages"), (Method::PATCH, "/sessions/x")]
            {
                let principal = caller(&t.app, &request(method, path, &key)).await.unwrap().unwrap();
                assert!(principal.may_use("any model"));
            }
            let admin = caller(&t.app, &request(Method::GET, "/admin/users", &key)).await;
            assert_eq!(error(admin), "insufficient_scope");
        });
    }
}
