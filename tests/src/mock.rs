//! A local server whose models are answered by the mock provider, in any of the four
//! wire formats: the one setup every test of providers, embeddings and the OpenAI
//! client shares.

use crate::{TestApp, spawn_app_with};
use confab_mock_provider::{MockHandle, MockProvider};
use serde_json::json;

/// The AWS credentials the server signs Bedrock requests with, and the mock verifies.
pub const AWS_KEY_ID: &str = "AKIDCONFABTEST";
pub const AWS_SECRET: &str = "confab-test-secret-access-key";

/// A provider wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::OpenAi, Format::Anthropic, Format::Gemini, Format::Bedrock];

    /// The `CONFAB_<PREFIX>_*` settings' prefix.
    fn prefix(self) -> &'static str {
        match self {
            Format::OpenAi => "OPENAI",
            Format::Anthropic => "ANTHROPIC",
            Format::Gemini => "GEMINI",
            Format::Bedrock => "BEDROCK",
        }
    }

    /// The credential the mock sees the server present: the API key, or Bedrock's access
    /// key id.
    pub fn key(self) -> &'static str {
        match self {
            Format::OpenAi => "openai-key",
            Format::Anthropic => "anthropic-key",
            Format::Gemini => "gemini-key",
            Format::Bedrock => AWS_KEY_ID,
        }
    }

    /// What the server is given as the key: Bedrock's is the AWS credentials' JSON.
    fn secret(self) -> String {
        match self {
            Format::Bedrock => {
                json!({"access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET}).to_string()
            }
            other => other.key().to_owned(),
        }
    }

    fn base_url(self, mock: &MockHandle) -> String {
        match self {
            Format::OpenAi => format!("{}/v1", mock.base_url()),
            _ => mock.base_url(),
        }
    }
}

/// The models the mock answers, each in its wire format.
#[derive(Debug, Default, Clone)]
pub struct MockModels {
    chat: Vec<(Format, String)>,
    embedding: Vec<(Format, String)>,
}

impl MockModels {
    pub fn new() -> Self {
        Self::default()
    }

    /// A chat model spoken to in `format`.
    pub fn chat(mut self, format: Format, name: &str) -> Self {
        self.chat.push((format, name.to_owned()));
        self
    }

    /// An embedding model spoken to in `format`.
    pub fn embedding(mut self, format: Format, name: &str) -> Self {
        self.embedding.push((format, name.to_owned()));
        self
    }

    /// The server settings that route the models to `mock`.
    fn settings(&self, mock: &MockHandle) -> Vec<(String, String)> {
        let names = |models: &[(Format, String)], format| {
            let names: Vec<&str> =
                models.iter().filter(|(f, _)| *f == format).map(|(_, n)| n.as_str()).collect();
            names.join(",")
        };
        let mut settings = Vec::new();
        for format in Format::ALL {
            let (chat, embedding) = (names(&self.chat, format), names(&self.embedding, format));
            if chat.is_empty() && embedding.is_empty() {
                continue;
            }
            let prefix = format.prefix();
            settings.push((format!("CONFAB_{prefix}_BASE_URL"), format.base_url(mock)));
            settings.push((format!("CONFAB_{prefix}_API_KEY"), format.secret()));
            for (suffix, names) in [("MODELS", chat), ("EMBEDDING_MODELS", embedding)] {
                if !names.is_empty() {
                    settings.push((format!("CONFAB_{prefix}_{suffix}"), names));
                }
            }
            if format == Format::Bedrock {
                settings.push(("CONFAB_BEDROCK_REGION".into(), "us-east-1".into()));
            }
        }
        settings
    }
}

/// A mock provider (verifying Bedrock's signatures) and a server whose `models` it
/// answers, with `extra` settings.
pub async fn spawn_app_with_mock(models: &MockModels, extra: &[(&str, &str)]) -> (TestApp, MockHandle) {
    let mock = MockProvider::builder()
        .bedrock_credentials(AWS_KEY_ID, AWS_SECRET)
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let owned = models.settings(&mock);
    let mut settings: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    settings.extend_from_slice(extra);
    (spawn_app_with(&settings).await, mock)
}
