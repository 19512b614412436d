//! What an API key may do, parsed from what its owner asked for at creation: scopes,
//! an allowlist of models, and an expiry.

use super::BoundedText;
use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

/// Most models one key's allowlist may name.
pub const MAX_KEY_MODELS: usize = 50;
/// Longest model name, as the routing config allows.
const MAX_MODEL_NAME: usize = 100;
/// Furthest ahead a key may expire: a key meant to last forever has no `expires_at`.
const MAX_KEY_LIFETIME: Duration = Duration::days(5 * 366);

/// One thing an API key may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    /// `/chat/*` and the OpenAI-compatible `/v1/*`.
    #[serde(rename = "chat")]
    Chat,
    /// Reading sessions and their messages (`GET /sessions…`).
    #[serde(rename = "sessions:read")]
    SessionsRead,
    /// Every other session route: create, change, delete, export.
    #[serde(rename = "sessions:write")]
    SessionsWrite,
    /// `/admin/*`, for an admin's key only and never by default.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Chat, Scope::SessionsRead, Scope::SessionsWrite, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsWrite => "sessions:write",
            Scope::Admin => "admin",
        }
    }

    fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The scopes of one key: a set, never empty when parsed from a request. Keys stored
/// before scopes existed read as the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scopes(BTreeSet<Scope>);

/// Every scope but `admin`: what a key could do before scopes existed.
impl Default for Scopes {
    fn default() -> Self {
        Scopes(Scope::ALL.into_iter().filter(|s| *s != Scope::Admin).collect())
    }
}

impl Scopes {
    /// Known scope names, each once, at least one.
    pub fn parse(raw: &[String]) -> Result<Scopes, ApiError> {
        if raw.is_empty() {
            return Err(invalid("scopes must name at least one scope; omit it for the default"));
        }
        let mut set = BTreeSet::new();
        for name in raw {
            let scope = Scope::parse(name).ok_or_else(|| {
                invalid(&format!(
                    "unknown scope {name:?}; the scopes are chat, sessions:read, sessions:write and admin"
                ))
            })?;
            if !set.insert(scope) {
                return Err(invalid(&format!("scope {name:?} is listed twice")));
            }
        }
        Ok(Scopes(set))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }
}

/// The only models a key may use, each named once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelAllowlist(Vec<String>);

impl ModelAllowlist {
    /// One to [`MAX_KEY_MODELS`] model names, trimmed, each once. A name need not be
    /// routed today: the routing config may change, and the list only ever narrows.
    pub fn parse(raw: &[String]) -> Result<ModelAllowlist, ApiError> {
        if raw.is_empty() {
            return Err(invalid("models must name at least one model; omit it for every model"));
        }
        if raw.len() > MAX_KEY_MODELS {
            return Err(invalid(&format!("models may name at most {MAX_KEY_MODELS} models")));
        }
        let mut names: Vec<String> = Vec::with_capacity(raw.len());
        for name in raw {
            let name = BoundedText::parse("a model name", name, MAX_MODEL_NAME)?.into_string();
            if name.is_empty() {
                return Err(invalid("a model name must not be empty"));
            }
            if names.contains(&name) {
                return Err(invalid(&format!("model {name:?} is listed twice")));
            }
            names.push(name);
        }
        Ok(ModelAllowlist(names))
    }

    pub fn allows(&self, model: &str) -> bool {
        self.0.iter().any(|m| m == model)
    }
}

/// When a key stops working: an RFC 3339 time after `now` and within five years.
pub fn key_expiry(raw: &str, now: OffsetDateTime) -> Result<OffsetDateTime, ApiError> {
    let at = OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| invalid("expires_at must be an RFC 3339 date-time, such as 2030-01-31T00:00:00Z"))?;
    if at <= now {
        return Err(invalid("expires_at must be in the future"));
    }
    if at - now > MAX_KEY_LIFETIME {
        return Err(invalid(
            "expires_at must be at most 5 years ahead; omit it for a key that does not expire",
        ));
    }
    Ok(at)
}

fn invalid(message: &str) -> ApiError {
    ApiError::Validation(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_parse_known_names_once() {
        let scopes = Scopes::parse(&strings(&["sessions:read", "chat"])).unwrap();
        assert!(scopes.contains(Scope::Chat) && scopes.contains(Scope::SessionsRead));
        assert!(!scopes.contains(Scope::SessionsWrite) && !scopes.contains(Scope::Admin));
        let json = serde_json::to_value(&scopes).unwrap();
        assert_eq!(json, serde_json::json!(["chat", "sessions:read"]), "stored and shown in one order");
        for bad in [&[][..], &["chat", "chat"], &["Chat"], &["sessions"], &["chat", ""], &["admin "]] {
            let err = Scopes::parse(&strings(bad)).unwrap_err();
            assert_eq!(err.code(), "validation_failed", "{bad:?}");
        }
    }

    #[test]
    fn the_default_is_everything_but_admin() {
        let default = Scopes::default();
        assert!(Scope::ALL.iter().all(|s| default.contains(*s) == (*s != Scope::Admin)));
        let stored: Scopes = serde_json::from_value(serde_json::json!(["admin"])).unwrap();
        assert!(stored.contains(Scope::Admin) && !stored.contains(Scope::Chat));
    }

    #[test]
    fn model_allowlists() {
        let list = ModelAllowlist::parse(&strings(&[" fast ", "smart"])).unwrap();
        assert!(list.allows("fast") && list.allows("smart") && !list.allows("other"));
        let too_many: Vec<String> = (0..=MAX_KEY_MODELS).map(|i| format!("m{i}")).collect();
        let long = "m".repeat(MAX_MODEL_NAME + 1);
        let bad: [Vec<String>; 6] = [
            vec![],
            too_many,
            strings(&["a", "b", "a"]),
            strings(&["a", " a"]),
            strings(&["  "]),
            vec![long],
        ];
        for raw in bad {
            assert!(ModelAllowlist::parse(&raw).is_err(), "{raw:?}");
        }
        assert!(ModelAllowlist::parse(&strings(&["bad\u{0}name"])).is_err());
    }

    #[test]
    fn expiry_is_in_the_future_and_within_five_years() {
        let now = OffsetDateTime::from_unix_timestamp(1_750_000_000).unwrap();
        let soon = key_expiry("2025-06-15T16:00:00Z", now).unwrap();
        assert_eq!(soon.unix_timestamp(), 1_750_003_200);
        assert!(key_expiry("2030-06-01T00:00:00+02:00", now).is_ok());
        for bad in [
            "2025-06-15T15:06:40Z", // now
            "2020-01-01T00:00:00Z",
            "2031-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "tomorrow",
            "2025-06-16",
            "1750003200",
            "",
        ] {
            assert_eq!(key_expiry(bad, now).unwrap_err().code(), "validation_failed", "{bad}");
        }
    }
}
