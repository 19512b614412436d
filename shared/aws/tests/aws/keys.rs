//! `KeySecrets` (the `confab-keys` tool's work) against moto's Secrets Manager.

use confab_aws::testing as common;

use confab_aws::{KeySecrets, KeysError};
use confab_core::auth::keys::{Jwks, SigningKeySet};
use confab_core::testing::{ManualClock, SeededRandom};
use std::time::Duration;

/// Every call sees the same instant.
fn fixed() -> ManualClock {
    ManualClock::at(1_800_000_000)
}

async fn read<T: serde::de::DeserializeOwned>(
    client: &confab_aws::sdk::secretsmanager::Client,
    id: &str,
) -> T {
    let out = client.get_secret_value().secret_id(id).send().await.expect("read");
    serde_json::from_str(out.secret_string().expect("string")).expect("a key set")
}

#[tokio::test]
async fn init_fills_declared_empty_secrets_and_never_replaces_keys() {
    let clients = common::clients().await;
    let prefix = format!("{}/", common::unique_name("keys"));
    // A template declares the secrets without a value.
    clients
        .secrets
        .create_secret()
        .name(format!("{prefix}confab-signing-keys"))
        .send()
        .await
        .expect("declare");
    let keys = KeySecrets { client: &clients.secrets, prefix: &prefix };
    let random = SeededRandom::new(1);
    assert!(keys.init(&random, &fixed()).await.expect("init"));
    let signing: SigningKeySet = read(&clients.secrets, &format!("{prefix}confab-signing-keys")).await;
    let verify: Jwks = read(&clients.secrets, &format!("{prefix}confab-verify-keys")).await;
    assert_eq!(verify.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), [signing.current.as_str()]);

    assert!(!keys.init(&random, &fixed()).await.expect("init again"), "nothing written");
    let again: SigningKeySet = read(&clients.secrets, &format!("{prefix}confab-signing-keys")).await;
    assert_eq!(again.current, signing.current);

    let early = keys.rotate(&random, &fixed(), 900, false, Duration::ZERO).await;
    assert!(matches!(early, Err(KeysError::TooEarly(900))), "{early:?}");
    let kid = keys.rotate(&random, &fixed(), 900, true, Duration::ZERO).await.expect("forced rotation");
    let verify: Jwks = read(&clients.secrets, &format!("{prefix}confab-verify-keys")).await;
    assert_eq!(
        verify.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        [kid.as_str(), signing.current.as_str()]
    );
}

#[tokio::test]
async fn rotating_missing_keys_says_to_init_first() {
    let clients = common::clients().await;
    let prefix = format!("{}/", common::unique_name("nokeys"));
    let keys = KeySecrets { client: &clients.secrets, prefix: &prefix };
    let result = keys.rotate(&SeededRandom::new(1), &fixed(), 900, true, Duration::ZERO).await;
    assert!(
        matches!(&result, Err(KeysError::Missing(name)) if name.ends_with("confab-signing-keys")),
        "{result:?}"
    );
}
