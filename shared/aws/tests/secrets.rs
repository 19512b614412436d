//! `SecretsManagerSecrets` against moto's Secrets Manager.

use confab_aws::testing as common;

use confab_aws::sdk::secretsmanager::primitives::Blob;
use confab_aws::{AwsClients, S3Options, SecretsManagerSecrets};
use confab_core::ports::secrets::{SecretError, Secrets};
use std::time::Duration;

const TTL: Duration = Duration::from_millis(1500);

async fn create(client: &confab_aws::sdk::secretsmanager::Client, name: &str, value: &str) {
    client.create_secret().name(name).secret_string(value).send().await.expect("create secret");
}

#[tokio::test]
async fn reads_secrets_and_none_for_missing_ones() {
    let clients = common::clients().await;
    let name = common::unique_name("secret");
    create(&clients.secrets, &name, "{\"keys\":[]}").await;
    let secrets = SecretsManagerSecrets::new(clients.secrets.clone());
    assert_eq!(secrets.get(&name).await.expect("get"), Some("{\"keys\":[]}".to_string()));
    assert_eq!(secrets.get(&common::unique_name("missing")).await.expect("get missing"), None);

    let binary = common::unique_name("binary");
    let value = Blob::new("sk-binary-but-text".as_bytes());
    clients.secrets.create_secret().name(&binary).secret_binary(value).send().await.expect("create");
    assert_eq!(secrets.get(&binary).await.expect("get binary"), Some("sk-binary-but-text".to_string()));
}

#[tokio::test]
async fn values_are_cached_until_the_ttl_passes() {
    let clients = common::clients().await;
    let name = common::unique_name("cached");
    create(&clients.secrets, &name, "v1").await;
    let secrets = SecretsManagerSecrets::new(clients.secrets.clone()).with_ttl(TTL);
    assert_eq!(secrets.get(&name).await.expect("get"), Some("v1".to_string()));

    clients.secrets.put_secret_value().secret_id(&name).secret_string("v2").send().await.expect("rotate");
    assert_eq!(secrets.get(&name).await.expect("get"), Some("v1".to_string()), "not served from the cache");
    // Clones share the cache.
    assert_eq!(secrets.clone().get(&name).await.expect("get"), Some("v1".to_string()));
    // A fresh adapter sees the new value at once.
    let fresh = SecretsManagerSecrets::new(clients.secrets.clone());
    assert_eq!(fresh.get(&name).await.expect("get"), Some("v2".to_string()));

    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(secrets.get(&name).await.expect("get"), Some("v2".to_string()), "the TTL passed");
}

#[tokio::test]
async fn absence_is_cached_too() {
    let clients = common::clients().await;
    let name = common::unique_name("later");
    let secrets = SecretsManagerSecrets::new(clients.secrets.clone()).with_ttl(TTL);
    assert_eq!(secrets.get(&name).await.expect("get"), None);
    create(&clients.secrets, &name, "now").await;
    assert_eq!(secrets.get(&name).await.expect("get"), None);
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(secrets.get(&name).await.expect("get"), Some("now".to_string()));
}

/// A moto of its own, stopped mid-test: the last value read is served while Secrets
/// Manager can't be reached; a name never read is an error.
#[tokio::test]
async fn the_last_value_is_served_while_unreachable() {
    let moto = common::Moto::start();
    let config = common::sdk_config_without_retries(&moto.url).await;
    let clients = AwsClients::from_sdk_config(&config, S3Options::default());
    create(&clients.secrets, "db", "v1").await;
    let secrets = SecretsManagerSecrets::new(clients.secrets.clone()).with_ttl(Duration::ZERO);
    assert_eq!(secrets.get("db").await.expect("get"), Some("v1".to_string()));

    drop(moto);
    assert_eq!(secrets.get("db").await.expect("stale get"), Some("v1".to_string()));
    match secrets.get("never-read").await {
        Err(SecretError::Unavailable(message)) => assert!(message.contains("never-read"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_prefix_is_put_in_front_of_every_name() {
    let clients = common::clients().await;
    let prefix = format!("{}/", common::unique_name("env"));
    create(&clients.secrets, &format!("{prefix}confab-verify-keys"), "prefixed").await;
    create(&clients.secrets, "confab-verify-keys-unprefixed-decoy", "decoy").await;
    let secrets = SecretsManagerSecrets::new(clients.secrets.clone()).with_prefix(&prefix);
    assert_eq!(secrets.get("confab-verify-keys").await.expect("get"), Some("prefixed".to_string()));
    assert_eq!(secrets.get("confab-verify-keys-unprefixed-decoy").await.expect("get"), None);
}
