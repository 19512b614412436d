use super::{DELETE_BATCH, Progress, collect_filtered, delete_items, from_item, to_data};
use crate::app::App;
use crate::domain::{Email, Id, Quota, Role};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;

const SK: &str = "USER";
const INDEX_PK: &str = "USERS";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub disabled: bool,
    pub password_hash: String,
    #[serde(default)]
    pub quota: Quota,
    /// Unix seconds: logins and access tokens from before it are refused (set when the
    /// account is disabled, so enabling it again revives none of them).
    #[serde(default)]
    pub not_before: Option<i64>,
    /// Whether login asks for a second factor (`repo::mfa` holds it).
    #[serde(default)]
    pub mfa_enabled: bool,
    /// Set when the account is being deleted (`accounts`): from then on it is gone for
    /// every purpose but the deletion, which removes this record last.
    #[serde(default)]
    pub deleting: bool,
}

/// A user as the API shows them: never any secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String)]
    pub id: Id,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub mfa_enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A user as admins see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    #[serde(flatten)]
    pub user: UserView,
    pub disabled: bool,
    pub quota: Quota,
}

impl User {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            mfa_enabled: self.mfa_enabled,
            created_at: self.created_at,
        }
    }

    /// Whether a token or login issued at `issued_at` (unix seconds) may act for this user.
    pub fn accepts(&self, issued_at: i64) -> bool {
        !self.disabled && !self.deleting && self.not_before.is_none_or(|cutoff| issued_at >= cutoff)
    }

    pub fn admin_view(&self) -> AdminUserView {
        AdminUserView { user: self.view(), disabled: self.disabled, quota: self.quota }
    }

    fn item(&self) -> Item {
        Item::new(pk(self.id), SK, to_data(self)).with_gsi1(INDEX_PK, self.id.to_string())
    }
}

/// The user's partition, which also holds their per-user records (`repo::mfa`).
pub(super) fn pk(id: Id) -> String {
    format!("USER#{id}")
}

fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}

/// Claimed once, by the first account, so exactly one registration becomes admin.
fn first_admin_claim() -> Write {
    Write::Put { item: Item::new("META", "FIRST_ADMIN", Default::default()), condition: Condition::NotExists }
}

pub struct NewUser {
    pub email: Email,
    pub name: Option<String>,
    pub password_hash: String,
}

/// Creates the user and claims the email in one transaction. The first account on a
/// fresh deployment also claims the admin role.
pub async fn create(app: &App, new: NewUser) -> ApiResult<User> {
    let admin_free = app.store.get("META", "FIRST_ADMIN").await?.is_none();
    let mut user = User {
        id: app.new_id(),
        email: new.email.as_str().to_string(),
        name: new.name,
        role: if admin_free { Role::Admin } else { Role::User },
        created_at: app.now(),
        disabled: false,
        password_hash: new.password_hash,
        quota: Quota::default(),
        not_before: None,
        mfa_enabled: false,
        deleting: false,
    };
    match insert(app, &user).await {
        Err(ApiError::Conflict(_)) if user.role == Role::Admin && !email_taken(app, &user.email).await? => {
            // Another registration won the admin claim first.
            user.role = Role::User;
            insert(app, &user).await?;
        }
        other => other?,
    }
    Ok(user)
}

/// The writes that create `user` and claim its email, for a transaction.
pub(super) fn create_writes(user: &User) -> Vec<Write> {
    vec![
        Write::Put { item: user.item(), condition: Condition::NotExists },
        Write::Put {
            item: Item::new(email_pk(&user.email), "EMAIL", to_data(&json!({ "user_id": user.id }))),
            condition: Condition::NotExists,
        },
    ]
}

async fn insert(app: &App, user: &User) -> ApiResult<()> {
    let mut writes = create_writes(user);
    if user.role == Role::Admin {
        writes.push(first_admin_claim());
    }
    match app.store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed)
            if user.role == Role::User || email_taken(app, &user.email).await? =>
        {
            Err(ApiError::EmailTaken)
        }
        Err(e) => Err(e.into()),
    }
}

async fn email_taken(app: &App, email: &str) -> ApiResult<bool> {
    Ok(app.store.get(&email_pk(email), "EMAIL").await?.is_some())
}

/// The user and the version to update it against; none once the account is being
/// deleted.
pub async fn get(app: &App, id: Id) -> ApiResult<Option<(User, u64)>> {
    Ok(get_any(app, id).await?.filter(|(user, _)| !user.deleting))
}

/// The user record even while the account is being deleted (the deletion itself).
pub async fn get_any(app: &App, id: Id) -> ApiResult<Option<(User, u64)>> {
    match app.store.get(&pk(id), SK).await? {
        Some(item) => Ok(Some((from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

pub async fn by_email(app: &App, email: &Email) -> ApiResult<Option<(User, u64)>> {
    let Some(link) = app.store.get(&email_pk(email.as_str()), "EMAIL").await? else { return Ok(None) };
    let id =
        link.str("user_id").and_then(Id::parse).ok_or_else(|| ApiError::Internal("bad email link".into()))?;
    get(app, id).await
}

/// Writes `user` if it is still at `version`.
pub async fn save(app: &App, user: &User, version: u64) -> ApiResult<()> {
    app.store.put(user.item(), Condition::Version(version)).await?;
    Ok(())
}

/// [`save`] as one write of a transaction.
pub fn save_write(user: &User, version: u64) -> Write {
    Write::Put { item: user.item(), condition: Condition::Version(version) }
}

/// Users newest first; `filter` keeps those whose email or name contains it.
pub async fn list(
    app: &App,
    filter: Option<&str>,
    limit: u32,
    cursor: Option<String>,
) -> ApiResult<(Vec<User>, Option<String>)> {
    let needle = filter.map(str::to_lowercase);
    let keep = |u: &User| {
        !u.deleting
            && needle.as_deref().is_none_or(|n| {
                u.email.contains(n) || u.name.as_deref().is_some_and(|name| name.to_lowercase().contains(n))
            })
    };
    let query = Query::new(INDEX_PK, SkRange::All).on_gsi1().backward();
    collect_filtered(app, query, limit, cursor, |item| from_item::<User>(item).map(|u| keep(&u).then_some(u)))
        .await
}

/// Deletes a batch of the records kept in the user's partition beside the user record
/// (MFA, the session count, …), for account deletion; the user record stays.
pub async fn delete_records(app: &App, id: Id) -> ApiResult<Progress> {
    let page = app.store.query(Query::new(pk(id), SkRange::All).limit(DELETE_BATCH)).await?;
    let records: Vec<Item> = page.items.into_iter().filter(|i| i.sk != SK).collect();
    if records.is_empty() {
        return Ok(Progress::Done);
    }
    delete_items(app, &records).await?;
    Ok(Progress::More(None))
}

/// The writes that remove the user record and free the email, ending an account's
/// deletion.
pub fn forget_writes(user: &User) -> [Write; 2] {
    [
        Write::Delete { pk: pk(user.id), sk: SK.into(), condition: Condition::Exists },
        Write::Delete { pk: email_pk(&user.email), sk: "EMAIL".into(), condition: Condition::Always },
    ]
}
