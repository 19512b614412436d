//! `SecretsManagerSecrets` against moto's Secrets Manager, by the checks confab-aws-http's
//! `SecretsManagerHttpSecrets` passes too (`confab_aws::testing::secrets`).

use confab_aws::testing::secrets::{self as check, TTL};
use confab_aws::testing::{Moto, clients, sdk_config_without_retries};
use confab_aws::{AwsClients, S3Options, SecretsManagerSecrets};
use std::time::Duration;

async fn secrets() -> SecretsManagerSecrets {
    SecretsManagerSecrets::new(clients().await.secrets)
}

#[tokio::test]
async fn reads_secrets_and_none_for_missing_ones() {
    check::reads_secrets_and_none_for_missing_ones(&secrets().await).await;
}

#[tokio::test]
async fn values_are_cached_until_the_ttl_passes() {
    let cached = check::cached(secrets().await, TTL);
    check::values_are_cached_until_the_ttl_passes(&cached, &cached.clone(), &secrets().await).await;
}

#[tokio::test]
async fn absence_is_cached_too() {
    check::absence_is_cached_too(&check::cached(secrets().await, TTL)).await;
}

#[tokio::test]
async fn the_last_value_is_served_while_unreachable() {
    let moto = Moto::start();
    let config = sdk_config_without_retries(&moto.url).await;
    let client = AwsClients::from_sdk_config(&config, S3Options::default()).secrets;
    let secrets = check::cached(SecretsManagerSecrets::new(client.clone()), Duration::ZERO);
    check::the_last_value_is_served_while_unreachable(moto, &client, &secrets).await;
}

#[tokio::test]
async fn a_prefix_is_put_in_front_of_every_name() {
    let secrets = secrets().await;
    check::a_prefix_is_put_in_front_of_every_name(|prefix| secrets.with_prefix(prefix)).await;
}
