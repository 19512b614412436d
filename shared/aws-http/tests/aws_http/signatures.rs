//! Signatures checked for real. The shared moto doesn't check them, so this test runs
//! its own moto with IAM authentication on after `INITIAL_NO_AUTH_ACTION_COUNT` requests
//! (moto then recomputes every request's SigV4 signature with botocore): the set-up
//! makes an IAM user with a key, a table, a bucket and a secret, then every adapter must
//! work with that key, and fail with a wrong secret.

use crate::common;

use bytes::Bytes;
use confab_aws::sdk::secretsmanager::operation::get_secret_value::GetSecretValueError;
use confab_aws::testing::{Moto, sdk_config_for};
use confab_aws::{AwsClients, DynamoStore, S3Blobs, S3Options};
use confab_aws_http::{AwsConfig, Credentials, DynamoHttpStore, S3HttpBlobs, SecretsManagerHttpSecrets};
use confab_core::ports::blob::BlobStore;
use confab_core::ports::secrets::Secrets;
use confab_core::ports::store::{Condition, Item, Query, SkRange, Store, StoreError, Write};
use serde_json::Map;

/// Requests moto serves before it checks signatures: enough for the set-up.
const UNCHECKED_REQUESTS: u32 = 40;

/// An IAM request (query protocol) to moto while it checks nothing: the `Authorization`
/// header only tells moto which service is meant.
async fn iam(url: &str, params: &[(&str, &str)]) -> String {
    let scope = concat!(
        "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/iam/aws4_request, ",
        "SignedHeaders=host, Signature=0"
    );
    let mut form: Vec<(&str, &str)> = vec![("Version", "2010-05-08")];
    form.extend_from_slice(params);
    let response = reqwest::Client::new()
        .post(url)
        .header("authorization", scope)
        .form(&form)
        .send()
        .await
        .expect("IAM");
    assert!(response.status().is_success(), "IAM {params:?}: {}", response.status());
    response.text().await.expect("IAM answer")
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    text.split_once(open).and_then(|(_, rest)| rest.split_once(close)).map(|(inside, _)| inside).expect(open)
}

/// An IAM user allowed everything: its access key id and secret.
async fn iam_user(url: &str) -> Credentials {
    iam(url, &[("Action", "CreateUser"), ("UserName", "confab")]).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let put_policy = [
        ("Action", "PutUserPolicy"),
        ("UserName", "confab"),
        ("PolicyName", "all"),
        ("PolicyDocument", policy),
    ];
    iam(url, &put_policy).await;
    let key = iam(url, &[("Action", "CreateAccessKey"), ("UserName", "confab")]).await;
    Credentials {
        access_key_id: between(&key, "<AccessKeyId>", "</AccessKeyId>").to_string(),
        secret_access_key: between(&key, "<SecretAccessKey>", "</SecretAccessKey>").to_string(),
        session_token: None,
    }
}

/// Sends requests with moto's fake credentials until moto refuses one: from then on,
/// it checks every signature.
async fn until_signatures_are_checked(clients: &AwsClients) {
    for _ in 0..=UNCHECKED_REQUESTS {
        let result = clients.secrets.get_secret_value().secret_id("nothing").send().await;
        let refused = result
            .as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| !matches!(e, GetSecretValueError::ResourceNotFoundException(_)));
        if refused {
            return;
        }
    }
    panic!("moto never started checking signatures");
}

#[tokio::test]
async fn moto_accepts_every_adapters_signatures() {
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", &UNCHECKED_REQUESTS.to_string())]);
    let credentials = iam_user(&moto.url).await;
    let clients =
        AwsClients::from_sdk_config(&sdk_config_for(&moto.url).await, S3Options { force_path_style: true });
    let table = DynamoStore::new(clients.dynamodb.clone(), "signed");
    table.create_table().await.expect("create the table");
    S3Blobs::new(clients.s3.clone(), "signed").create_bucket().await.expect("create the bucket");
    clients.secrets.create_secret().name("signed").secret_string("s3cr=t").send().await.expect("create");
    until_signatures_are_checked(&clients).await;

    let config = AwsConfig::new("us-east-1", credentials.clone()).with_endpoint(&moto.url);
    let store = DynamoHttpStore::new(&config, common::http(), common::clock(), "signed");
    let item = Item::new("p", "s=1", Map::new()).with_gsi1("g", "1");
    store.put(item.clone(), Condition::NotExists).await.expect("put");
    assert_eq!(store.get("p", "s=1").await.expect("get").map(|i| i.version), Some(1));
    assert_eq!(store.query(Query::new("g", SkRange::All).on_gsi1()).await.expect("query").items.len(), 1);
    store.add("p", "n", &[("n", 1)], None).await.expect("add");
    let check = Write::Check { pk: "p".into(), sk: "s=1".into(), condition: Condition::Exists };
    let put = Write::Put { item: Item::new("p", "t", Map::new()), condition: Condition::NotExists };
    store.transact(vec![check, put]).await.expect("transact");
    store.delete("p", "s=1", Condition::Exists).await.expect("delete");

    let blobs = S3HttpBlobs::new(&config, common::http(), common::clock(), "signed");
    blobs.put("a/b=1.md", "text/markdown", Bytes::from_static(b"hello")).await.expect("put");
    assert_eq!(blobs.get("a/b=1.md").await.expect("get"), Some(Bytes::from_static(b"hello")));
    // Presigned URLs are not here: with authentication on, moto fails on any request
    // without an `Authorization` header (HTTP 500). cross_adapter.rs shows they are the
    // SDK's, byte for byte.
    blobs.delete_prefix("a/").await.expect("delete_prefix");
    assert_eq!(blobs.get("a/b=1.md").await.expect("get"), None);

    let secrets = SecretsManagerHttpSecrets::new(&config, common::http(), common::clock());
    assert_eq!(secrets.get("signed").await.expect("get"), Some("s3cr=t".to_string()));

    // The same requests with a wrong secret are refused: signatures are really checked.
    let wrong = Credentials { secret_access_key: "wrong".into(), ..credentials };
    let config = AwsConfig::new("us-east-1", wrong).with_endpoint(&moto.url);
    let store = DynamoHttpStore::new(&config, common::http(), common::clock(), "signed");
    let result = store.get("p", "n").await;
    assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("Signature")), "{result:?}");
    let blobs = S3HttpBlobs::new(&config, common::http(), common::clock(), "signed");
    let result = blobs.get("a/b=1.md").await;
    assert!(result.as_ref().is_err_and(|e| e.to_string().contains("Signature")), "{result:?}");
    let secrets = SecretsManagerHttpSecrets::new(&config, common::http(), common::clock());
    let result = secrets.get("signed").await;
    assert!(result.as_ref().is_err_and(|e| e.to_string().contains("Signature")), "{result:?}");
}
