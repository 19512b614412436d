//! `confab-local-aws`: in an AWS emulator (moto), creates what a deployment's template
//! creates in AWS: the table, the bucket and the signing keys named by `CONFAB_TABLE`,
//! `CONFAB_BUCKET` and `CONFAB_SECRETS_PREFIX`. Whatever exists is kept, so it can run
//! before every `wrangler dev` (scripts/edge-dev does). It refuses to run without
//! `AWS_ENDPOINT_URL`: real deployments get their resources from infra/.

use confab_aws::{AwsClients, S3Options, resources};
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
    let created = resources::ensure(&clients, (&table, &bucket, &prefix), &OsRandom, &SystemClock).await?;
    let state = |created: bool| if created { "created" } else { "kept" };
    Ok(format!(
        "{endpoint}: table {table} {}, bucket {bucket} {}, signing keys under {prefix:?} {}",
        state(created.table),
        state(created.bucket),
        state(created.keys)
    ))
}
