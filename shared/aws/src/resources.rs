//! A deployment's table, bucket and signing keys, made where no template runs: in an
//! emulator (`confab-local-aws`) and for the tests' stacks.

use crate::{AwsClients, DynamoStore, KeySecrets, S3Blobs};
use confab_core::ports::{Clock, Random};

/// Which of the resources [`ensure`] created (the others existed already).
#[derive(Debug, Clone, Copy)]
pub struct Created {
    pub table: bool,
    pub bucket: bool,
    pub keys: bool,
}

/// Creates the table, the bucket and the signing keys (secret names behind `prefix`)
/// that don't exist yet; keeps what does.
pub async fn ensure(
    clients: &AwsClients,
    names: (&str, &str, &str),
    random: &dyn Random,
    clock: &dyn Clock,
) -> Result<Created, String> {
    let (table, bucket, prefix) = names;
    let table_missing = clients.dynamodb.describe_table().table_name(table).send().await.is_err();
    if table_missing {
        DynamoStore::new(clients.dynamodb.clone(), table)
            .create_table()
            .await
            .map_err(|e| format!("table {table}: {e}"))?;
    }
    let bucket_missing = clients.s3.head_bucket().bucket(bucket).send().await.is_err();
    if bucket_missing {
        S3Blobs::new(clients.s3.clone(), bucket)
            .create_bucket()
            .await
            .map_err(|e| format!("bucket {bucket}: {e}"))?;
    }
    let keys = KeySecrets { client: &clients.secrets, prefix };
    let keys_written = keys.init(random, clock).await.map_err(|e| format!("signing keys: {e}"))?;
    Ok(Created { table: table_missing, bucket: bucket_missing, keys: keys_written })
}
