//! `SecretsManagerHttpSecrets` against moto's Secrets Manager, by the checks confab-aws's
//! `SecretsManagerSecrets` passes (`confab_aws::testing::secrets`); secrets are made
//! through the SDK.

use crate::common;

use confab_aws::testing::secrets::{self as check, TTL};
use confab_aws::testing::{Moto, sdk_config_for};
use confab_aws::{AwsClients, S3Options};
use confab_aws_http::SecretsManagerHttpSecrets;
use std::time::Duration;

fn secrets() -> SecretsManagerHttpSecrets {
    SecretsManagerHttpSecrets::new(&common::config(), common::http(), common::clock())
}

#[tokio::test]
async fn reads_secrets_and_none_for_missing_ones() {
    check::reads_secrets_and_none_for_missing_ones(&secrets()).await;
}

#[tokio::test]
async fn values_are_cached_until_the_ttl_passes() {
    let cached = check::cached(secrets(), TTL);
    check::values_are_cached_until_the_ttl_passes(&cached, &cached.clone(), &secrets()).await;
}

#[tokio::test]
async fn absence_is_cached_too() {
    check::absence_is_cached_too(&check::cached(secrets(), TTL)).await;
}

#[tokio::test]
async fn the_last_value_is_served_while_unreachable() {
    let moto = Moto::start();
    let config = sdk_config_for(&moto.url).await;
    let client = AwsClients::from_sdk_config(&config, S3Options::default()).secrets;
    let secrets =
        SecretsManagerHttpSecrets::new(&common::config_for(&moto.url), common::http(), common::clock());
    let secrets = check::cached(secrets, Duration::ZERO);
    check::the_last_value_is_served_while_unreachable(moto, &client, &secrets).await;
}

#[tokio::test]
async fn a_prefix_is_put_in_front_of_every_name() {
    check::a_prefix_is_put_in_front_of_every_name(|prefix| secrets().with_prefix(prefix)).await;
}
