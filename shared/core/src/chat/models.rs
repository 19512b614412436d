//! Model routing configuration: each model name maps to an ordered list of provider
//! targets. It lives in the store (`repo::routing`; admins edit it with `PUT
//! /admin/models`); the first read on a fresh deployment seeds it from the
//! `CONFAB_<PROVIDER>_*` settings.

use crate::domain::BoundedText;
use crate::error::{ApiError, ApiResult};
use crate::providers::{self, ProviderKind, Target, check_secret_name, embeddings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

const DEFAULT_CONTEXT_TOKENS: u32 = 8192;

/// What a model is for: each endpoint takes only its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Chat replies: sessions, `/v1/chat/completions`.
    #[default]
    Chat,
    /// Vectors: `/v1/embeddings`.
    Embedding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRoute {
    /// The name clients ask for.
    pub name: String,
    /// `chat` unless given.
    #[serde(default)]
    pub kind: ModelKind,
    /// Tried in order: a target is used when the ones before it fail before the
    /// first token.
    pub targets: Vec<Target>,
    /// The model's context window, in tokens.
    #[serde(default = "default_context_tokens")]
    pub context_tokens: u32,
    /// Most tokens a reply may have; also reserved out of the context window.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// The model sees images: images attached to a message reach it as image parts.
    /// `false` unless given; such a model refuses them (422 `model_cannot_see_images`).
    #[serde(default)]
    pub vision: bool,
}

fn default_context_tokens() -> u32 {
    DEFAULT_CONTEXT_TOKENS
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Used when a request names no model.
    pub default_model: String,
    pub models: Vec<ModelRoute>,
}

impl ModelConfig {
    pub fn route(&self, name: &str) -> Option<&ModelRoute> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The route of model `name` for an endpoint that takes `kind`: 404 for an unknown
    /// model, 400 for one of the other kind.
    pub fn route_of_kind(&self, name: &str, kind: ModelKind) -> ApiResult<&ModelRoute> {
        let route = self.route(name).ok_or_else(|| ApiError::UnknownModel(name.to_string()))?;
        match (route.kind, kind) {
            (ModelKind::Chat, ModelKind::Embedding) => Err(ApiError::InvalidRequest(format!(
                "model {name:?} is a chat model; embeddings need an embedding model (GET /v1/models lists them)"
            ))),
            (ModelKind::Embedding, ModelKind::Chat) => Err(ApiError::InvalidRequest(format!(
                "model {name:?} is an embedding model; use it with POST /v1/embeddings"
            ))),
            _ => Ok(route),
        }
    }

    /// Checks what an admin sends: unique, well-formed names, at least one target
    /// each, URLs and secrets where the provider needs them, a default that exists.
    pub fn validate(&self) -> ApiResult<()> {
        let bad = |m: String| Err(ApiError::Validation(m));
        let mut names = std::collections::BTreeSet::new();
        for m in &self.models {
            let name = BoundedText::parse("model name", &m.name, 100)?.into_string();
            if name.is_empty() || name != m.name || !names.insert(name) {
                return bad(format!("model names must be unique, trimmed and non-empty: {:?}", m.name));
            }
            if m.targets.is_empty() {
                return bad(format!("model {} needs at least one target", m.name));
            }
            for t in &m.targets {
                validate_target(t)?;
                if m.kind == ModelKind::Embedding {
                    embeddings::supports(t)
                        .map_err(|e| ApiError::Validation(format!("embedding model {}: {e}", m.name)))?;
                }
            }
            if m.max_output_tokens.is_some_and(|o| o >= m.context_tokens) {
                return bad(format!("model {}: max_output_tokens must be below context_tokens", m.name));
            }
        }
        if self.route(&self.default_model).is_none_or(|m| m.kind != ModelKind::Chat) {
            return bad(format!("default_model {:?} is not one of the chat models", self.default_model));
        }
        Ok(())
    }
}

fn validate_target(t: &Target) -> ApiResult<()> {
    let needs_url = t.provider != ProviderKind::Echo;
    let url_ok = t.base_url.starts_with("https://") || t.base_url.starts_with("http://");
    if needs_url && !url_ok {
        return Err(ApiError::Validation(format!("target {}: base_url must be an http(s) URL", t.model)));
    }
    if t.provider == ProviderKind::Bedrock && (t.region.is_none() || t.api_key_secret.is_none()) {
        return Err(ApiError::Validation(format!(
            "bedrock target {} needs region and api_key_secret",
            t.model
        )));
    }
    if let Some(name) = &t.api_key_secret {
        check_secret_name(name).map_err(|m| ApiError::Validation(format!("target {}: {m}", t.model)))?;
    }
    if t.model.trim().is_empty() {
        return Err(ApiError::Validation("every target needs a model".into()));
    }
    Ok(())
}

/// Whether routing is only the built-in `echo` model (nothing configured).
pub fn echo_only(config: &ModelConfig) -> bool {
    config.models.iter().all(|m| m.targets.iter().all(|t| t.provider == ProviderKind::Echo))
}

/// The configuration `CONFAB_<PROVIDER>_*` settings describe: `_MODELS` and
/// `_VISION_MODELS` as chat models (`echo` alone when none; those in `_VISION_MODELS`
/// see images), then `_EMBEDDING_MODELS` as embedding models.
pub fn seed_from_settings(settings: &BTreeMap<String, String>) -> ModelConfig {
    let providers = providers::settings::read(settings);
    let seeded = |kind| {
        let mut routes = Vec::new();
        for provider in &providers {
            let Some(base_url) = &provider.base_url else { continue };
            let names = match kind {
                ModelKind::Chat => provider.chat_models(),
                ModelKind::Embedding => provider.embedding_models.clone(),
            };
            for name in &names {
                let target = Target {
                    provider: provider.kind,
                    base_url: base_url.trim_end_matches('/').to_string(),
                    model: name.clone(),
                    api_key_secret: provider.secret_name(),
                    region: provider.region.clone(),
                };
                routes.push(ModelRoute {
                    name: name.clone(),
                    kind,
                    targets: vec![target],
                    context_tokens: DEFAULT_CONTEXT_TOKENS,
                    max_output_tokens: None,
                    vision: kind == ModelKind::Chat && provider.vision_models.contains(name),
                });
            }
        }
        routes
    };
    let mut models = seeded(ModelKind::Chat);
    if models.is_empty() {
        models.push(echo_route());
    }
    let default_model = models[0].name.clone();
    models.extend(seeded(ModelKind::Embedding));
    ModelConfig { default_model, models }
}

/// The built-in `echo` model's one target.
pub fn echo_target() -> Target {
    Target {
        provider: ProviderKind::Echo,
        base_url: String::new(),
        model: "echo".into(),
        api_key_secret: None,
        region: None,
    }
}

fn echo_route() -> ModelRoute {
    ModelRoute {
        name: "echo".into(),
        kind: ModelKind::Chat,
        targets: vec![echo_target()],
        context_tokens: DEFAULT_CONTEXT_TOKENS,
        max_output_tokens: None,
        vision: false,
    }
}

#[cfg(test)]
mod tests {
    use super::{ModelConfig, ModelKind, seed_from_settings};
    use crate::error::ApiError;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn openai_config(secret: &str) -> ModelConfig {
        let settings = [("BASE_URL", "http://127.0.0.1:1/v1"), ("MODELS", "m"), ("API_KEY", "k")];
        let settings: BTreeMap<_, _> =
            settings.iter().map(|(k, v)| (format!("CONFAB_OPENAI_{k}"), v.to_string())).collect();
        let mut config = seed_from_settings(&settings);
        config.models[0].targets[0].api_key_secret = Some(secret.into());
        config
    }

    #[test]
    fn targets_may_name_provider_secrets_only() {
        assert!(openai_config("confab-provider-openrouter").validate().is_ok());
        for bad in ["confab-signing-keys", "confab-verify-keys", "confab-provider-", "confab-openai-api-key"]
        {
            assert!(openai_config(bad).validate().is_err(), "{bad}");
        }
    }

    fn seeded(pairs: &[(&str, &str)]) -> ModelConfig {
        seed_from_settings(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn embedding_models_are_seeded_after_the_chat_models() {
        let config = seeded(&[
            ("CONFAB_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"),
            ("CONFAB_GEMINI_API_KEY", "k"),
            ("CONFAB_GEMINI_EMBEDDING_MODELS", "gemini-embedding-001"),
        ]);
        let kinds: Vec<_> = config.models.iter().map(|m| (m.name.as_str(), m.kind)).collect();
        assert_eq!(kinds, [("echo", ModelKind::Chat), ("gemini-embedding-001", ModelKind::Embedding)]);
        assert_eq!(config.default_model, "echo");
        assert!(config.validate().is_ok());
        assert!(config.route_of_kind("gemini-embedding-001", ModelKind::Embedding).is_ok());
        let wrong = config.route_of_kind("echo", ModelKind::Embedding).unwrap_err();
        assert!(matches!(&wrong, ApiError::InvalidRequest(m) if m.contains("is a chat model")), "{wrong}");
        let wrong = config.route_of_kind("gemini-embedding-001", ModelKind::Chat).unwrap_err();
        assert!(
            matches!(&wrong, ApiError::InvalidRequest(m) if m.contains("POST /v1/embeddings")),
            "{wrong}"
        );
        assert!(matches!(config.route_of_kind("nope", ModelKind::Chat), Err(ApiError::UnknownModel(_))));
    }

    #[test]
    fn vision_models_are_chat_models_that_see_images() {
        let config = seeded(&[
            ("CONFAB_OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
            ("CONFAB_OPENAI_MODELS", "text-only, both"),
            ("CONFAB_OPENAI_VISION_MODELS", "both, eyes"),
        ]);
        let seen: Vec<_> = config.models.iter().map(|m| (m.name.as_str(), m.kind, m.vision)).collect();
        assert_eq!(
            seen,
            [
                ("text-only", ModelKind::Chat, false),
                ("both", ModelKind::Chat, true),
                ("eyes", ModelKind::Chat, true)
            ]
        );
        let json = serde_json::to_value(&config.models[0]).unwrap();
        let without: super::ModelRoute =
            serde_json::from_value(json!({"name": "m", "targets": json["targets"]})).unwrap();
        assert!(!without.vision, "vision is off unless given");
    }

    #[test]
    fn embedding_models_need_targets_with_embeddings_and_cannot_be_the_default() {
        let mut config = openai_config("confab-provider-openai");
        config.models[0].kind = ModelKind::Embedding;
        assert!(config.validate().unwrap_err().to_string().contains("not one of the chat models"));
        let mut config = seeded(&[
            ("CONFAB_BEDROCK_BASE_URL", "https://bedrock-runtime.us-east-1.amazonaws.com"),
            ("CONFAB_BEDROCK_API_KEY_SECRET", "confab-provider-bedrock"),
            ("CONFAB_BEDROCK_REGION", "us-east-1"),
            ("CONFAB_BEDROCK_EMBEDDING_MODELS", "amazon.titan-embed-text-v2:0,cohere.embed-english-v3"),
        ]);
        assert!(config.validate().is_ok());
        config.models[1].targets[0].model = "anthropic.claude-3-haiku-20240307-v1:0".into();
        assert!(config.validate().unwrap_err().to_string().contains("neither Titan"));
    }
}
