//! The `CONFAB_OIDC_*` settings: `CONFAB_OIDC_PROVIDERS=corp,google` and, per name,
//! `CONFAB_OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` or `_CLIENT_SECRET_SECRET`,
//! `_DISPLAY_NAME`, `_SCOPES`, `_ALLOWED_DOMAINS` and `_LINK_BY_EMAIL`. Parsed once, at
//! start, so a bad setting stops the deployment instead of a sign-in.

use crate::config::ConfigError;
use std::collections::BTreeMap;
use std::fmt;

/// Client secrets read from the secrets port must carry this prefix, so a setting can
/// never point sign-in at another secret (the signing keys, say).
pub const SECRET_PREFIX: &str = "confab-oidc-";
const MAX_NAME: usize = 32;
const DEFAULT_SCOPES: &str = "openid email profile";

/// One identity provider, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcProvider {
    /// Lower case, as in the provider's paths (`/auth/oidc/<name>/…`).
    pub name: String,
    pub display_name: String,
    /// Exactly as configured: discovery must name the same issuer, and so must tokens.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Space-separated, `openid` among them.
    pub scopes: String,
    /// Email domains that may sign up (lower case); empty: any.
    pub allowed_domains: Vec<String>,
    /// Whether a verified email that matches an existing account signs in to it.
    pub link_by_email: bool,
}

/// Where the client secret comes from. Its `Debug` never shows a value.
#[derive(Clone, PartialEq)]
pub enum ClientSecret {
    /// Given in the settings (local use).
    Value(String),
    /// The name of a secret to read through the secrets port.
    Secret(String),
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientSecret::Value(_) => f.write_str("Value(<redacted>)"),
            ClientSecret::Secret(name) => f.debug_tuple("Secret").field(name).finish(),
        }
    }
}

impl OidcProvider {
    /// Whether `domain` (lower case) may sign up.
    pub fn allows_domain(&self, domain: &str) -> bool {
        self.allowed_domains.is_empty() || self.allowed_domains.iter().any(|d| d == domain)
    }
}

/// Every provider `CONFAB_OIDC_PROVIDERS` names, in its order.
pub fn read(settings: &BTreeMap<String, String>) -> Result<Vec<OidcProvider>, ConfigError> {
    let Some(list) = settings.get("CONFAB_OIDC_PROVIDERS") else { return Ok(Vec::new()) };
    let mut providers: Vec<OidcProvider> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let name = name.to_ascii_lowercase();
        check_name(&name)?;
        if providers.iter().any(|p| p.name == name) {
            return Err(error("CONFAB_OIDC_PROVIDERS", format!("{name:?} is listed twice")));
        }
        providers.push(provider(settings, name)?);
    }
    Ok(providers)
}

fn error(name: &str, problem: String) -> ConfigError {
    ConfigError { name: name.into(), problem }
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(error(
            "CONFAB_OIDC_PROVIDERS",
            format!("provider names are letters, digits and '_' (at most {MAX_NAME}), got {name:?}"),
        ))
    }
}

fn provider(settings: &BTreeMap<String, String>, name: String) -> Result<OidcProvider, ConfigError> {
    let setting = |field: &str| format!("CONFAB_OIDC_{}_{field}", name.to_ascii_uppercase());
    let get = |field: &str| settings.get(&setting(field)).map(|v| v.trim()).filter(|v| !v.is_empty());
    let required = |field: &str| get(field).ok_or_else(|| error(&setting(field), "is required".into()));
    let issuer = required("ISSUER")?;
    check_issuer(issuer).map_err(|problem| error(&setting("ISSUER"), problem))?;
    let client_secret = match (get("CLIENT_SECRET"), get("CLIENT_SECRET_SECRET")) {
        (Some(value), None) => ClientSecret::Value(value.into()),
        (None, Some(secret)) => {
            check_secret_name(secret).map_err(|problem| error(&setting("CLIENT_SECRET_SECRET"), problem))?;
            ClientSecret::Secret(secret.into())
        }
        _ => {
            return Err(error(
                &setting("CLIENT_SECRET"),
                "set this or _CLIENT_SECRET_SECRET, not both".into(),
            ));
        }
    };
    let scopes = get("SCOPES").unwrap_or(DEFAULT_SCOPES);
    check_scopes(scopes).map_err(|problem| error(&setting("SCOPES"), problem))?;
    let link_by_email = match get("LINK_BY_EMAIL") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(error(&setting("LINK_BY_EMAIL"), format!("expected true or false, got {other:?}")));
        }
    };
    Ok(OidcProvider {
        display_name: get("DISPLAY_NAME").unwrap_or(&name).chars().take(100).collect(),
        issuer: issuer.into(),
        client_id: required("CLIENT_ID")?.into(),
        client_secret,
        scopes: scopes.split_whitespace().collect::<Vec<_>>().join(" "),
        allowed_domains: get("ALLOWED_DOMAINS")
            .map(|v| v.split(',').map(|d| d.trim().to_lowercase()).filter(|d| !d.is_empty()).collect())
            .unwrap_or_default(),
        link_by_email,
        name,
    })
}

/// An https URL, or plain http to this machine; with a host either way.
pub fn https_or_loopback(uri: &http::Uri) -> bool {
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") => !host.is_empty(),
        Some("http") => matches!(host, "localhost" | "127.0.0.1" | "[::1]"),
        _ => false,
    }
}

/// An issuer is an https URL without query or fragment; plain http only on loopback,
/// for tests and local identity providers.
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    let uri: http::Uri = issuer.parse().map_err(|_| format!("{issuer:?} is not a URL"))?;
    let plain = uri.query().is_none() && !issuer.contains('#');
    if https_or_loopback(&uri) && plain {
        Ok(())
    } else {
        Err(format!("expected an https URL without query (http only on loopback), got {issuer:?}"))
    }
}

fn check_secret_name(name: &str) -> Result<(), String> {
    let rest = name.strip_prefix(SECRET_PREFIX).unwrap_or_default();
    let ok = !rest.is_empty()
        && name.len() <= 128
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(format!("client secret names start with {SECRET_PREFIX:?}, got {name:?}")) }
}

fn check_scopes(scopes: &str) -> Result<(), String> {
    let tokens: Vec<&str> = scopes.split_whitespace().collect();
    // RFC 6749 §3.3: scope tokens are printable ASCII without '"' and '\'.
    let printable = tokens.iter().all(|t| t.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'));
    if printable && tokens.contains(&"openid") {
        Ok(())
    } else {
        Err(format!("expected space-separated scopes including openid, got {scopes:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const CORP: [(&str, &str); 4] = [
        ("CONFAB_OIDC_PROVIDERS", "Corp"),
        ("CONFAB_OIDC_CORP_ISSUER", "https://id.example.com"),
        ("CONFAB_OIDC_CORP_CLIENT_ID", "confab"),
        ("CONFAB_OIDC_CORP_CLIENT_SECRET", "s3cret"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> BTreeMap<String, String> {
        settings(&CORP.iter().chain(extra).copied().collect::<Vec<_>>())
    }

    #[test]
    fn reads_a_provider_with_defaults() {
        let providers =
            read(&with(&[("CONFAB_OIDC_CORP_ALLOWED_DOMAINS", " Example.com, ,corp.example ")])).unwrap();
        let corp = &providers[0];
        assert_eq!((corp.name.as_str(), corp.display_name.as_str()), ("corp", "corp"));
        assert_eq!(corp.scopes, "openid email profile");
        assert_eq!(corp.allowed_domains, ["example.com", "corp.example"]);
        assert!(!corp.link_by_email);
        assert!(corp.allows_domain("corp.example") && !corp.allows_domain("evil.example"));
        assert!(!format!("{corp:?}").contains("s3cret"), "the secret never shows in Debug");
        assert!(read(&BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_settings_by_name() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[("CONFAB_OIDC_CORP_ISSUER", "http://id.example.com")], "CONFAB_OIDC_CORP_ISSUER"),
            (&[("CONFAB_OIDC_CORP_ISSUER", "https://id.example.com/?x=1")], "CONFAB_OIDC_CORP_ISSUER"),
            (&[("CONFAB_OIDC_CORP_CLIENT_ID", " ")], "CONFAB_OIDC_CORP_CLIENT_ID"),
            (
                &[("CONFAB_OIDC_CORP_CLIENT_SECRET_SECRET", "confab-oidc-corp")],
                "CONFAB_OIDC_CORP_CLIENT_SECRET",
            ),
            (&[("CONFAB_OIDC_CORP_SCOPES", "email profile")], "CONFAB_OIDC_CORP_SCOPES"),
            (&[("CONFAB_OIDC_CORP_LINK_BY_EMAIL", "yes")], "CONFAB_OIDC_CORP_LINK_BY_EMAIL"),
            (&[("CONFAB_OIDC_PROVIDERS", "corp,corp")], "CONFAB_OIDC_PROVIDERS"),
        ];
        for (extra, name) in cases {
            let mut s = with(&[]);
            s.extend(settings(extra));
            assert_eq!(read(&s).unwrap_err().name, name, "{extra:?}");
        }
        let s = settings(&[("CONFAB_OIDC_PROVIDERS", "../x")]);
        assert_eq!(read(&s).unwrap_err().name, "CONFAB_OIDC_PROVIDERS");
    }

    #[test]
    fn client_secrets_from_the_secrets_port_need_the_prefix() {
        let mut s = with(&[]);
        s.remove("CONFAB_OIDC_CORP_CLIENT_SECRET");
        s.insert("CONFAB_OIDC_CORP_CLIENT_SECRET_SECRET".into(), "confab-signing-keys".into());
        assert_eq!(read(&s).unwrap_err().name, "CONFAB_OIDC_CORP_CLIENT_SECRET_SECRET");
        s.insert("CONFAB_OIDC_CORP_CLIENT_SECRET_SECRET".into(), "confab-oidc-corp".into());
        assert_eq!(read(&s).unwrap()[0].client_secret, ClientSecret::Secret("confab-oidc-corp".into()));
    }

    #[test]
    fn loopback_issuers_may_be_http() {
        assert!(check_issuer("http://127.0.0.1:4000").is_ok());
        assert!(check_issuer("https://accounts.example.com/tenant/v2.0").is_ok());
        assert!(check_issuer("ftp://127.0.0.1").is_err());
    }
}
