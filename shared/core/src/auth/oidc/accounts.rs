//! Whose account an identity opens: the account it is linked to; else, for a verified
//! email, the account with that email when the provider may link by email; else a new
//! account when the email's domain may sign up. New links and accounts are written with
//! conditions, so two callbacks racing for one identity cannot make two accounts.

use super::Failure;
use super::id_token::Identity;
use super::settings::OidcProvider;
use crate::app::App;
use crate::domain::{Email, Quota, Role, optional_text};
use crate::error::ApiError;
use crate::repo::identities::{self, Identity as Link};
use crate::repo::users::{self, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    SignedIn,
    /// The identity was linked to the existing account with its email.
    Linked,
    /// A new account was made for it.
    Registered,
}

impl Outcome {
    pub fn action(self) -> &'static str {
        match self {
            Outcome::SignedIn => "auth.oidc_login",
            Outcome::Linked => "auth.oidc_linked",
            Outcome::Registered => "auth.oidc_registered",
        }
    }
}

pub async fn resolve(
    app: &App,
    provider: &OidcProvider,
    identity: &Identity,
) -> Result<(User, Outcome), Failure> {
    // A lost race means the other callback linked or created first: look again.
    for _ in 0..2 {
        if let Some(found) = attempt(app, provider, identity).await? {
            return Ok(found);
        }
    }
    Err(Failure::Server(ApiError::Conflict("the account was changed concurrently; retry")))
}

/// The account, or `None` when a conditional write lost a race.
async fn attempt(
    app: &App,
    provider: &OidcProvider,
    identity: &Identity,
) -> Result<Option<(User, Outcome)>, Failure> {
    if let Some(link) = identities::get(app, &identity.iss, &identity.sub).await? {
        let (user, _) = users::get(app, link.user_id)
            .await?
            .ok_or_else(|| Failure::Server(ApiError::Internal("identity linked to no user".into())))?;
        if user.mfa_enabled {
            return Err(Failure::MfaRequired(user.id));
        }
        return usable(user).map(|u| Some((u, Outcome::SignedIn)));
    }
    let raw = identity.verified_email.as_deref().ok_or(Failure::EmailNotVerified)?;
    let email = Email::parse(raw).map_err(|_| Failure::InvalidToken("the email is not an address".into()))?;
    // Folding maps lookalikes (full-width letters, ligatures) onto plain addresses: the
    // provider verified the lookalike mailbox, not the plain one it would link to or
    // the domain it would pass for.
    if raw.trim().to_lowercase() != email.as_str() {
        return Err(Failure::InvalidToken("the email is not in its plain form".into()));
    }
    let link = |user_id| Link {
        iss: identity.iss.clone(),
        sub: identity.sub.clone(),
        user_id,
        provider: provider.name.clone(),
        created_at: app.now(),
    };
    if let Some((user, version)) = users::by_email(app, &email).await? {
        // Linking would let the provider skip the account's own second factor.
        if !provider.link_by_email || user.mfa_enabled {
            return Err(Failure::AccountExists(user.id));
        }
        // Whoever registered this email with a password may not be its owner (anyone can
        // register any address): linking ends that password and everything signed in
        // with it, so a squatter cannot keep a way into the owner's account.
        let user =
            User { password_hash: String::new(), not_before: Some(app.clock.now_unix()), ..usable(user)? };
        let linked = identities::link(app, &user, version, &link(user.id)).await?;
        return Ok(linked.then_some((user, Outcome::Linked)));
    }
    let domain = email.as_str().rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if !provider.allows_domain(domain) {
        return Err(Failure::DomainNotAllowed);
    }
    let user = new_user(app, email, identity.name.as_deref());
    let created = identities::create_with_user(app, &user, &link(user.id)).await?;
    Ok(created.then_some((user, Outcome::Registered)))
}

fn usable(user: User) -> Result<User, Failure> {
    if user.disabled { Err(Failure::AccountDisabled(user.id)) } else { Ok(user) }
}

/// A plain user with no password: password login never matches an empty hash.
fn new_user(app: &App, email: Email, name: Option<&str>) -> User {
    User {
        id: app.new_id(),
        email: email.as_str().to_string(),
        name: optional_text("name", name, 100).ok().flatten(),
        role: Role::User,
        created_at: app.now(),
        disabled: false,
        password_hash: String::new(),
        quota: Quota::default(),
        not_before: None,
        mfa_enabled: false,
        deleting: false,
    }
}
