//! The `CONFAB_<PROVIDER>_*` settings (`_BASE_URL`, `_MODELS`, `_VISION_MODELS`, `_EMBEDDING_MODELS`,
//! `_API_KEY`, `_API_KEY_SECRET`, `_REGION`): the one place that knows their names. They seed the
//! model routing; the local server serves each `_API_KEY` as the secret it names.

use super::{ProviderKind, SECRET_PREFIX};
use std::collections::BTreeMap;

/// Each provider's name in the settings.
const PROVIDERS: [(&str, ProviderKind); 4] = [
    ("OPENAI", ProviderKind::Openai),
    ("ANTHROPIC", ProviderKind::Anthropic),
    ("GEMINI", ProviderKind::Gemini),
    ("BEDROCK", ProviderKind::Bedrock),
];

/// One provider's settings. A blank value counts as absent.
pub struct ProviderSettings {
    pub kind: ProviderKind,
    name: &'static str,
    pub base_url: Option<String>,
    /// `_MODELS`, comma-separated.
    pub models: Vec<String>,
    /// `_VISION_MODELS`, comma-separated: chat models that see images.
    pub vision_models: Vec<String>,
    /// `_EMBEDDING_MODELS`, comma-separated.
    pub embedding_models: Vec<String>,
    /// The key itself (locally).
    pub api_key: Option<String>,
    /// The name of the secret holding the key.
    pub api_key_secret: Option<String>,
    /// For Bedrock.
    pub region: Option<String>,
}

impl ProviderSettings {
    /// The full name of this provider's setting `field`: `CONFAB_OPENAI_<field>`.
    pub fn setting(&self, field: &str) -> String {
        format!("CONFAB_{}_{field}", self.name)
    }

    /// The chat models: `_MODELS`, then those of `_VISION_MODELS` not among them.
    pub fn chat_models(&self) -> Vec<String> {
        let extra = self.vision_models.iter().filter(|v| !self.models.contains(v));
        self.models.iter().chain(extra).cloned().collect()
    }

    /// The secret the provider's key is read from: `_API_KEY_SECRET`, else the
    /// provider's default secret when a key is given; none without either.
    pub fn secret_name(&self) -> Option<String> {
        self.api_key_secret.clone().or_else(|| self.api_key.as_ref().map(|_| default_secret_name(self.kind)))
    }
}

/// Every provider's settings found in `settings`.
pub fn read(settings: &BTreeMap<String, String>) -> Vec<ProviderSettings> {
    PROVIDERS
        .into_iter()
        .map(|(name, kind)| {
            let get = |field: &str| {
                settings
                    .get(&format!("CONFAB_{name}_{field}"))
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .map(String::from)
            };
            let names = |field: &str| {
                get(field).map_or_else(Vec::new, |names| {
                    names.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect()
                })
            };
            ProviderSettings {
                kind,
                name,
                base_url: get("BASE_URL"),
                models: names("MODELS"),
                vision_models: names("VISION_MODELS"),
                embedding_models: names("EMBEDDING_MODELS"),
                api_key: get("API_KEY"),
                api_key_secret: get("API_KEY_SECRET"),
                region: get("REGION"),
            }
        })
        .collect()
}

/// The secret name a provider's key is read from unless its settings name another.
pub fn default_secret_name(provider: ProviderKind) -> String {
    let kind =
        serde_json::to_value(provider).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    format!("{SECRET_PREFIX}{kind}")
}

#[cfg(test)]
mod tests {
    use super::{default_secret_name, read};
    use crate::providers::{ProviderKind, check_secret_name};
    use std::collections::BTreeMap;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn default_secret_names_are_provider_secrets() {
        for kind in
            [ProviderKind::Openai, ProviderKind::Anthropic, ProviderKind::Gemini, ProviderKind::Bedrock]
        {
            let name = default_secret_name(kind);
            assert!(check_secret_name(&name).is_ok(), "{name}");
        }
        assert_eq!(default_secret_name(ProviderKind::Openai), "confab-provider-openai");
    }

    #[test]
    fn a_key_is_read_from_the_named_secret_else_the_default_one() {
        let given = settings(&[
            ("CONFAB_OPENAI_API_KEY", "k"),
            ("CONFAB_GEMINI_API_KEY", "k"),
            ("CONFAB_GEMINI_API_KEY_SECRET", " confab-provider-mine "),
            ("CONFAB_ANTHROPIC_API_KEY", "  "),
            ("CONFAB_BEDROCK_MODELS", " a, ,b "),
        ]);
        let secrets: Vec<_> = read(&given).iter().map(|p| (p.kind, p.secret_name())).collect();
        assert_eq!(
            secrets,
            [
                (ProviderKind::Openai, Some("confab-provider-openai".to_string())),
                (ProviderKind::Anthropic, None),
                (ProviderKind::Gemini, Some("confab-provider-mine".to_string())),
                (ProviderKind::Bedrock, None),
            ]
        );
        let bedrock = read(&given).into_iter().find(|p| p.kind == ProviderKind::Bedrock).unwrap();
        assert_eq!(bedrock.models, ["a", "b"]);
        assert_eq!(bedrock.setting("REGION"), "CONFAB_BEDROCK_REGION");
    }
}
