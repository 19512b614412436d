//! Settings, read from `CONFAB_*` names in every runtime (environment variables,
//! `confab.toml`, Worker vars). Parsing takes a map so the core never reads the process
//! environment itself.

use crate::auth::oidc::settings::{self as oidc, OidcProvider};
use crate::chat::models::{ModelConfig, seed_from_settings};
use crate::providers::{self, check_secret_name};
use crate::websearch::{self, SearchSettings};
use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_ttl_seconds: i64,
    pub refresh_idle_seconds: i64,
    pub refresh_absolute_seconds: i64,
    pub max_body_bytes: usize,
    /// Largest attachment upload (its raw body; the one path that takes more than
    /// `max_body_bytes`). Lambda takes requests of at most 6 MB.
    pub max_attachment_bytes: usize,
    pub cors_origins: Vec<String>,
    pub rate_limit_per_minute: i64,
    pub login_max_per_minute: i64,
    pub login_max_failures: i64,
    pub lockout_seconds: i64,
    /// How long the access-token signing and verification keys are kept before their
    /// secrets are read again (at once when a token names a key id not yet known).
    pub key_cache_seconds: i64,
    /// The model routing a fresh deployment starts with (from `CONFAB_<PROVIDER>_*`).
    pub seed_models: ModelConfig,
    /// Retries per target after the first attempt.
    pub provider_retries: u32,
    /// How long a deterministic `/v1` reply is kept for the same user's same request
    /// (`chat::cache`); 0 turns the response cache off.
    pub cache_ttl_seconds: u32,
    /// Backoff before the first retry; it doubles per retry, with full jitter.
    pub retry_base_ms: u64,
    pub first_token_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// Consecutive failures that open a target's circuit, and for how long.
    pub circuit_failures: u32,
    pub circuit_cooldown_seconds: i64,
    /// Per-user defaults; admins can override them per user.
    pub requests_per_minute: i64,
    pub tokens_per_day: i64,
    /// A streaming reply is saved at least this often, and whenever this much text
    /// has accumulated.
    pub stream_flush_ms: u64,
    pub stream_flush_bytes: usize,
    /// How long a reply keeps streaming after its client disconnects, waiting for the
    /// client to resume, before it stops and is saved as `interrupted`.
    pub resume_grace_seconds: i64,
    /// How long a reply's producer holds its lease without renewing it; a `streaming`
    /// reply past its lease is ended as `interrupted` by whoever reads it.
    pub stream_lease_seconds: i64,
    /// How often runtimes with a timer sweep for replies past their lease.
    pub stream_sweep_seconds: u64,
    /// The address clients reach the API at (`https://chat.example.com`), for links
    /// the API hands out. The local server defaults it to its own address.
    pub public_url: Option<String>,
    /// How long the entry points' secrets cache reuses a secret's value before reading
    /// it again. Provider keys are read through it on every call, so a rotated provider
    /// key is used within this time.
    pub secrets_cache_seconds: u64,
    /// Most sessions one user may keep.
    pub max_sessions_per_user: i64,
    /// Most bytes one user's attachments may hold, all sessions together.
    pub max_attachment_bytes_per_user: i64,
    /// How long a rotated refresh token still returns its successor (two tabs
    /// refreshing at once) instead of counting as reuse.
    pub refresh_grace_seconds: i64,
    /// Identity providers users may sign in with (`CONFAB_OIDC_*`).
    pub oidc_providers: Vec<OidcProvider>,
    /// `host:port`s the guarded fetcher may reach whatever their address (tests,
    /// intranets).
    pub fetch_allow_hosts: Vec<String>,
    /// Most bytes of an image fetched from a URL.
    pub fetch_max_image_bytes: usize,
    /// The model asked for a session's title after its first reply; none: the model
    /// of the session's turn.
    pub title_model: Option<String>,
    /// Web search for research (`CONFAB_SEARCH_*`); none: research is unavailable.
    pub search: Option<SearchSettings>,
    /// The model research's agents ask; none: the model of the session's turn.
    pub research_model: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            jwt_issuer: "confab".into(),
            jwt_audience: "confab-api".into(),
            access_ttl_seconds: 15 * 60,
            refresh_idle_seconds: 7 * 24 * 3600,
            refresh_absolute_seconds: 30 * 24 * 3600,
            max_body_bytes: 1024 * 1024,
            max_attachment_bytes: 5 * 1024 * 1024,
            cors_origins: Vec::new(),
            rate_limit_per_minute: 600,
            login_max_per_minute: 10,
            login_max_failures: 5,
            lockout_seconds: 15 * 60,
            key_cache_seconds: 300,
            seed_models: seed_from_settings(&BTreeMap::new()),
            provider_retries: 2,
            cache_ttl_seconds: 0,
            retry_base_ms: 200,
            first_token_timeout_ms: 30_000,
            idle_timeout_ms: 30_000,
            circuit_failures: 5,
            circuit_cooldown_seconds: 30,
            requests_per_minute: 60,
            tokens_per_day: 1_000_000,
            stream_flush_ms: 200,
            stream_flush_bytes: 2048,
            resume_grace_seconds: 15,
            stream_lease_seconds: 30,
            stream_sweep_seconds: 60,
            public_url: None,
            secrets_cache_seconds: 10,
            max_sessions_per_user: 10_000,
            max_attachment_bytes_per_user: 1024 * 1024 * 1024,
            refresh_grace_seconds: 30,
            oidc_providers: Vec::new(),
            fetch_allow_hosts: Vec::new(),
            fetch_max_image_bytes: 10 * 1024 * 1024,
            title_model: None,
            search: None,
            research_model: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {problem}")]
pub struct ConfigError {
    pub name: String,
    pub problem: String,
}

impl Config {
    /// Reads every known `CONFAB_*` setting from `settings`; unknown names are ignored
    /// (other parts of the system own them), malformed values are an error.
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let d = Config::default();
        let r = Reader(settings);
        Ok(Config {
            jwt_issuer: r.string("CONFAB_JWT_ISSUER", d.jwt_issuer),
            jwt_audience: r.string("CONFAB_JWT_AUDIENCE", d.jwt_audience),
            access_ttl_seconds: r.positive("CONFAB_ACCESS_TTL_SECONDS", d.access_ttl_seconds)?,
            refresh_idle_seconds: r.positive("CONFAB_REFRESH_IDLE_SECONDS", d.refresh_idle_seconds)?,
            refresh_absolute_seconds: r
                .positive("CONFAB_REFRESH_ABSOLUTE_SECONDS", d.refresh_absolute_seconds)?,
            max_body_bytes: r.positive("CONFAB_MAX_BODY_BYTES", d.max_body_bytes)?,
            max_attachment_bytes: r.positive("CONFAB_MAX_ATTACHMENT_BYTES", d.max_attachment_bytes)?,
            cors_origins: r.list("CONFAB_CORS_ORIGINS"),
            rate_limit_per_minute: r.positive("CONFAB_RATE_LIMIT_PER_MINUTE", d.rate_limit_per_minute)?,
            login_max_per_minute: r.positive("CONFAB_LOGIN_MAX_PER_MINUTE", d.login_max_per_minute)?,
            login_max_failures: r.positive("CONFAB_LOGIN_MAX_FAILURES", d.login_max_failures)?,
            lockout_seconds: r.positive("CONFAB_LOCKOUT_SECONDS", d.lockout_seconds)?,
            key_cache_seconds: r.positive("CONFAB_KEY_CACHE_SECONDS", d.key_cache_seconds)?,
            seed_models: seed_from_settings(provider_secret_settings(settings)?),
            provider_retries: r.number("CONFAB_PROVIDER_RETRIES", d.provider_retries)?,
            cache_ttl_seconds: r.number("CONFAB_CACHE_TTL_SECONDS", d.cache_ttl_seconds)?,
            retry_base_ms: r.positive("CONFAB_RETRY_BASE_MS", d.retry_base_ms)?,
            first_token_timeout_ms: r.positive("CONFAB_FIRST_TOKEN_TIMEOUT_MS", d.first_token_timeout_ms)?,
            idle_timeout_ms: r.positive("CONFAB_IDLE_TIMEOUT_MS", d.idle_timeout_ms)?,
            circuit_failures: r.positive("CONFAB_CIRCUIT_FAILURES", d.circuit_failures)?,
            circuit_cooldown_seconds: r
                .positive("CONFAB_CIRCUIT_COOLDOWN_SECONDS", d.circuit_cooldown_seconds)?,
            requests_per_minute: r.positive("CONFAB_REQUESTS_PER_MINUTE", d.requests_per_minute)?,
            tokens_per_day: r.positive("CONFAB_TOKENS_PER_DAY", d.tokens_per_day)?,
            stream_flush_ms: r.positive("CONFAB_STREAM_FLUSH_MS", d.stream_flush_ms)?,
            stream_flush_bytes: r.positive("CONFAB_STREAM_FLUSH_BYTES", d.stream_flush_bytes)?,
            resume_grace_seconds: r.positive("CONFAB_RESUME_GRACE_SECONDS", d.resume_grace_seconds)?,
            stream_lease_seconds: r.positive("CONFAB_STREAM_LEASE_SECONDS", d.stream_lease_seconds)?,
            stream_sweep_seconds: r.positive("CONFAB_STREAM_SWEEP_SECONDS", d.stream_sweep_seconds)?,
            public_url: r.base_url("CONFAB_PUBLIC_URL")?,
            // At least a second: provider keys are read through this cache on every call.
            secrets_cache_seconds: r.positive("CONFAB_SECRETS_CACHE_SECONDS", d.secrets_cache_seconds)?,
            max_sessions_per_user: r.positive("CONFAB_MAX_SESSIONS_PER_USER", d.max_sessions_per_user)?,
            max_attachment_bytes_per_user: r
                .positive("CONFAB_MAX_ATTACHMENT_BYTES_PER_USER", d.max_attachment_bytes_per_user)?,
            refresh_grace_seconds: r.number("CONFAB_REFRESH_GRACE_SECONDS", d.refresh_grace_seconds)?,
            oidc_providers: oidc::read(settings)?,
            fetch_allow_hosts: r.list("CONFAB_FETCH_ALLOW_HOSTS"),
            fetch_max_image_bytes: r.positive("CONFAB_FETCH_MAX_IMAGE_BYTES", d.fetch_max_image_bytes)?,
            title_model: r.optional("CONFAB_TITLE_MODEL"),
            search: websearch::read(settings)?,
            research_model: r.optional("CONFAB_RESEARCH_MODEL"),
        })
    }
}

/// `settings`, once every `CONFAB_<PROVIDER>_API_KEY_SECRET` is checked to name a
/// provider secret.
fn provider_secret_settings(
    settings: &BTreeMap<String, String>,
) -> Result<&BTreeMap<String, String>, ConfigError> {
    for provider in providers::settings::read(settings) {
        if let Some(value) = &provider.api_key_secret {
            check_secret_name(value)
                .map_err(|problem| ConfigError { name: provider.setting("API_KEY_SECRET"), problem })?;
        }
    }
    Ok(settings)
}

/// The setting `name` as an http(s) origin (`https://host[:port]`, no path), without a
/// trailing slash.
pub fn origin(name: &str, raw: &str) -> Result<String, ConfigError> {
    let url = raw.trim().trim_end_matches('/');
    let ok = url.parse::<http::Uri>().is_ok_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() && u.path() == "/"
    });
    if ok {
        Ok(url.to_string())
    } else {
        Err(ConfigError { name: name.into(), problem: format!("expected an http(s) origin, got {raw:?}") })
    }
}

struct Reader<'a>(&'a BTreeMap<String, String>);

impl Reader<'_> {
    fn string(&self, name: &str, default: String) -> String {
        self.0.get(name).cloned().unwrap_or(default)
    }

    /// A value that is set and not blank.
    fn optional(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map(String::from)
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    }

    /// An absolute http(s) URL with nothing after the host, without a trailing `/`.
    fn base_url(&self, name: &str) -> Result<Option<String>, ConfigError> {
        self.0.get(name).map(|raw| origin(name, raw)).transpose()
    }

    fn positive<T: FromStr + PartialOrd + Default>(&self, name: &str, default: T) -> Result<T, ConfigError> {
        self.parsed(name, default, |v| *v > T::default(), "a positive number")
    }

    fn number<T: FromStr + PartialOrd + Default>(&self, name: &str, default: T) -> Result<T, ConfigError> {
        self.parsed(name, default, |v| *v >= T::default(), "a number, 0 or more")
    }

    fn parsed<T: FromStr>(
        &self,
        name: &str,
        default: T,
        ok: impl Fn(&T) -> bool,
        what: &str,
    ) -> Result<T, ConfigError> {
        let Some(raw) = self.0.get(name) else { return Ok(default) };
        match raw.trim().parse::<T>() {
            Ok(v) if ok(&v) => Ok(v),
            _ => Err(ConfigError { name: name.into(), problem: format!("expected {what}, got {raw:?}") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;
    use std::collections::BTreeMap;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_when_unset() {
        assert_eq!(Config::from_settings(&BTreeMap::new()).unwrap(), Config::default());
    }

    #[test]
    fn reads_values_and_lists() {
        let c = Config::from_settings(&settings(&[
            ("CONFAB_MAX_BODY_BYTES", "2048"),
            ("CONFAB_CORS_ORIGINS", " https://a.example , ,https://b.example"),
            ("CONFAB_UNRELATED", "ignored"),
            ("CONFAB_PUBLIC_URL", " https://chat.example.com/ "),
            ("CONFAB_TITLE_MODEL", " small "),
        ]))
        .unwrap();
        assert_eq!(c.max_body_bytes, 2048);
        assert_eq!(c.title_model.as_deref(), Some("small"));
        assert_eq!(c.public_url.as_deref(), Some("https://chat.example.com"));
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
    }

    #[test]
    fn rejects_malformed_numbers() {
        // A secrets cache of 0 s would read every provider key on every call.
        for name in ["CONFAB_RATE_LIMIT_PER_MINUTE", "CONFAB_SECRETS_CACHE_SECONDS"] {
            for bad in ["0", "-5", "ten", ""] {
                let err = Config::from_settings(&settings(&[(name, bad)])).unwrap_err();
                assert_eq!(err.name, name, "{bad:?}");
            }
        }
    }

    #[test]
    fn provider_secret_settings_must_name_provider_secrets() {
        let ok = settings(&[("CONFAB_OPENAI_API_KEY_SECRET", "confab-provider-openai")]);
        assert!(Config::from_settings(&ok).is_ok());
        let spaced = settings(&[("CONFAB_OPENAI_API_KEY_SECRET", " confab-provider-openai ")]);
        assert!(Config::from_settings(&spaced).is_ok());
        for bad in ["confab-signing-keys", "confab-provider-", "confab-provider-../x", "openai"] {
            let err = Config::from_settings(&settings(&[("CONFAB_GEMINI_API_KEY_SECRET", bad)])).unwrap_err();
            assert_eq!(err.name, "CONFAB_GEMINI_API_KEY_SECRET", "{bad:?}");
        }
    }

    #[test]
    fn rejects_public_urls_that_are_not_origins() {
        for bad in ["chat.example.com", "ftp://chat.example.com", "https://chat.example.com/api", ""] {
            let err = Config::from_settings(&settings(&[("CONFAB_PUBLIC_URL", bad)])).unwrap_err();
            assert_eq!(err.name, "CONFAB_PUBLIC_URL", "{bad:?}");
        }
    }
}
