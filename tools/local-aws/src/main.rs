//! `confab-local-aws`: in an AWS emulator (moto), creates what a deployment's template
//! creates in AWS: the table, the bucket and the signing keys named by `CONFAB_TABLE`,
//! `CONFAB_BUCKET` and `CONFAB_SECRETS_PREFIX`. Whatever exists is kept, so it can run
//! before every `wrangler dev` (scripts/edge-dev does). It refuses to run without
//! `AWS_ENDPOINT_URL`: real deployments get their resources from infra/.

use confab_aws::{AwsClients, DynamoStore, KeySecrets, S3Blobs, S3Options};
use confab_native::{OsRandom, SystemClock};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("confab-local-aws: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<String, String> {
    let setting = |name: &str| std::env::var(name).map_err(|_| format!("{name} must be set"));
    let endpoint = setting("AWS_ENDPOINT_URL")?;
    let (table, bucket) = (setting("CONFAB_TABLE")?, setting("CONFAB_BUCKET")?);
    let prefix = std::env::var("CONFAB_SECRETS_PREFIX").unwrap_or_default();
    let clients = AwsClients::from_env(S3Options { force_path_style: true }).await;

    let store = DynamoStore::new(clients.dynamodb.clone(), &table);
    let table_exists = clients.dynamodb.describe_table().table_name(&table).send().await.is_ok();
    if !table_exists {
        store.create_table().await.map_err(|e| format!("table {table}: {e}"))?;
    }
    let bucket_exists = clients.s3.head_bucket().bucket(&bucket).send().await.is_ok();
    if !bucket_exists {
        S3Blobs::new(clients.s3.clone(), &bucket)
            .create_bucket()
            .await
            .map_err(|e| format!("bucket {bucket}: {e}"))?;
    }
    let keys = KeySecrets { client: &clients.secrets, prefix: &prefix };
    let keys_written = keys.init(&OsRandom, &SystemClock).await.map_err(|e| format!("signing keys: {e}"))?;
    let state = |existed: bool| if existed { "kept" } else { "created" };
    Ok(format!(
        "{endpoint}: table {table} {}, bucket {bucket} {}, signing keys under {prefix:?} {}",
        state(table_exists),
        state(bucket_exists),
        state(!keys_written)
    ))
}
