//! Checks of a Secrets Manager adapter, shared by `SecretsManagerSecrets`'s tests and
//! confab-aws-http's `SecretsManagerHttpSecrets` tests; secrets are made through the SDK.

use super::{Moto, clients, unique_name};
use crate::sdk::secretsmanager::Client;
use crate::sdk::secretsmanager::primitives::Blob;
use confab_core::ports::secrets::{Cached, SecretError, Secrets};
use confab_native::SystemClock;
use std::sync::Arc;
use std::time::Duration;

/// The cache TTL the checks expect of the adapters they are given.
pub const TTL: Duration = Duration::from_millis(1500);

/// `secrets` cached for `ttl` as the entry points cache it: the core's `Cached`, on the
/// system clock.
pub fn cached<S: Secrets>(secrets: S, ttl: Duration) -> Cached<S> {
    Cached::new(secrets, Arc::new(SystemClock), ttl)
}

pub async fn create(client: &Client, name: &str, value: &str) {
    client.create_secret().name(name).secret_string(value).send().await.expect("create secret");
}

pub async fn reads_secrets_and_none_for_missing_ones(secrets: &dyn Secrets) {
    let client = clients().await.secrets;
    let name = unique_name("secret");
    create(&client, &name, "{\"keys\":[]}").await;
    assert_eq!(secrets.get(&name).await.expect("get"), Some("{\"keys\":[]}".to_string()));
    assert_eq!(secrets.get(&unique_name("missing")).await.expect("get missing"), None);

    let binary = unique_name("binary");
    let value = Blob::new("sk-binary-but-text".as_bytes());
    client.create_secret().name(&binary).secret_binary(value).send().await.expect("create");
    assert_eq!(secrets.get(&binary).await.expect("get binary"), Some("sk-binary-but-text".to_string()));
}

/// `cached` has the [`TTL`], `clone` is a clone of it, `fresh` a new one.
pub async fn values_are_cached_until_the_ttl_passes(
    cached: &dyn Secrets,
    clone: &dyn Secrets,
    fresh: &dyn Secrets,
) {
    let client = clients().await.secrets;
    let name = unique_name("cached");
    create(&client, &name, "v1").await;
    assert_eq!(cached.get(&name).await.expect("get"), Some("v1".to_string()));

    client.put_secret_value().secret_id(&name).secret_string("v2").send().await.expect("rotate");
    assert_eq!(cached.get(&name).await.expect("get"), Some("v1".to_string()), "not served from the cache");
    assert_eq!(clone.get(&name).await.expect("get"), Some("v1".to_string()), "clones share the cache");
    assert_eq!(fresh.get(&name).await.expect("get"), Some("v2".to_string()), "a fresh adapter reads");

    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(cached.get(&name).await.expect("get"), Some("v2".to_string()), "the TTL passed");
}

/// `secrets` has the [`TTL`].
pub async fn absence_is_cached_too(secrets: &dyn Secrets) {
    let client = clients().await.secrets;
    let name = unique_name("later");
    assert_eq!(secrets.get(&name).await.expect("get"), None);
    create(&client, &name, "now").await;
    assert_eq!(secrets.get(&name).await.expect("get"), None);
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(secrets.get(&name).await.expect("get"), Some("now".to_string()));
}

/// On a moto of its own (`client` and `secrets`, cached with no TTL, on it), stopped
/// mid-test: the last value read is served while Secrets Manager can't be reached; a
/// name never read is an error.
pub async fn the_last_value_is_served_while_unreachable(moto: Moto, client: &Client, secrets: &dyn Secrets) {
    create(client, "db", "v1").await;
    assert_eq!(secrets.get("db").await.expect("get"), Some("v1".to_string()));

    drop(moto);
    assert_eq!(secrets.get("db").await.expect("stale get"), Some("v1".to_string()));
    match secrets.get("never-read").await {
        Err(SecretError::Unavailable(message)) => assert!(message.contains("never-read"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// `with_prefix` makes the adapter with a name prefix.
pub async fn a_prefix_is_put_in_front_of_every_name<S: Secrets>(with_prefix: impl FnOnce(&str) -> S) {
    let client = clients().await.secrets;
    let prefix = format!("{}/", unique_name("env"));
    create(&client, &format!("{prefix}confab-verify-keys"), "prefixed").await;
    create(&client, "confab-verify-keys-unprefixed-decoy", "decoy").await;
    let secrets = with_prefix(&prefix);
    assert_eq!(secrets.get("confab-verify-keys").await.expect("get"), Some("prefixed".to_string()));
    assert_eq!(secrets.get("confab-verify-keys-unprefixed-decoy").await.expect("get"), None);
}
