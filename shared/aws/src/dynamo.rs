//! [`DynamoStore`]: the store port on one DynamoDB table. The key design (how port items
//! map to attributes) is written down in this crate's README, and in code once for both
//! store adapters in `confab_dynamo_json`; this module converts its DynamoDB JSON to the
//! SDK's types and sends the requests.
//!
//! Every write is one `UpdateItem` (or one `TransactWriteItems`), so that the version
//! bump (`v = if_not_exists(v, 0) + 1`) and the port's condition are checked and applied
//! atomically by DynamoDB; nothing is read-modify-written. Expiry is judged by this
//! process's clock: conditions and query filters compare `expires_at` with "now" sent
//! as a value, and reads drop expired items.

mod json;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, builders::UpdateItemFluentBuilder};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use confab_core::ports::store::{Condition, Item, Page, Query, Store, StoreError, Write};
use confab_dynamo_json::{
    Attrs, Expressions, GSI1, QueryAnswer, TransactionFailure, Updated, attr, build, check_item, check_key,
    check_restore, decode_optional, is_expired,
};
use json::{SdkAttrs, from_sdk_map, to_sdk_map};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The store port on one DynamoDB table (see the crate README for the key design).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on `table` (which must exist with the layout [`DynamoStore::create_table`]
    /// makes). No network I/O.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table: key `pk` (hash) + `sk` (range), the index `gsi1` on
    /// `gsi1pk` + `gsi1sk` projecting all attributes, on-demand billing, and TTL on
    /// `expires_at`; waits until it is active. For tests and first-time setup outside
    /// the infrastructure template (which declares the same table).
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let definition = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let key_element = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(build_error)
        };
        let gsi1 = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key_element(attr::GSI1PK, KeyType::Hash)?)
            .key_schema(key_element(attr::GSI1SK, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build_error)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(definition(attr::PK)?)
            .attribute_definitions(definition(attr::SK)?)
            .attribute_definitions(definition(attr::GSI1PK)?)
            .attribute_definitions(definition(attr::GSI1SK)?)
            .key_schema(key_element(attr::PK, KeyType::Hash)?)
            .key_schema(key_element(attr::SK, KeyType::Range)?)
            .global_secondary_indexes(gsi1)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(sdk_error)?;
        self.client
            .wait_until_table_exists()
            .table_name(&self.table)
            .wait(Duration::from_secs(300))
            .await
            .map_err(|e| StoreError::Unavailable(DisplayErrorContext(&e).to_string()))?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attr::EXPIRES_AT)
            .build()
            .map_err(build_error)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// An `UpdateItem` on one item with its expressions, to be completed and sent.
    fn update_item(&self, pk: &str, sk: &str, x: Expressions) -> Result<UpdateItemFluentBuilder, StoreError> {
        let (names, values) = placeholders(&x)?;
        Ok(self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)?))
            .set_update_expression(x.update)
            .set_condition_expression(x.condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values))
    }

    /// One of `add`'s `UpdateItem`s.
    async fn update_for_add(&self, pk: &str, sk: &str, x: Expressions) -> Result<Updated, StoreError> {
        let result = self
            .update_item(pk, sk, x)?
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => decode(out.attributes()).map(Updated::New),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    decode(failed.item()).map(Updated::Refused)
                }
                _ => Err(sdk_error(err)),
            },
        }
    }

    /// One `TransactWriteItems` entry, or `None` for a check that always holds.
    fn transact_item(&self, write: Write, now: i64) -> Result<Option<TransactWriteItem>, StoreError> {
        let entry = match write {
            Write::Put { item, condition } => {
                let x = build::put(&item, condition, now);
                let (names, values) = placeholders(&x)?;
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(&item.pk, &item.sk)?))
                    .set_update_expression(x.update)
                    .set_condition_expression(x.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update).build()
            }
            Write::Delete { pk, sk, condition } => {
                let x = build::conditional(condition, now);
                let (names, values) = placeholders(&x)?;
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(&pk, &sk)?))
                    .set_condition_expression(x.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            Write::Check { pk, sk, condition } => {
                let x = build::conditional(condition, now);
                let (names, values) = placeholders(&x)?;
                let Some(condition) = x.condition else { return Ok(None) };
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(&pk, &sk)?))
                    .condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(Some(entry))
    }

    /// One `TransactWriteItems` of the writes, built at this moment (nothing to send
    /// when every write is a check that always holds).
    async fn transact_once(&self, writes: &[Write]) -> Result<(), TransactionFailure> {
        let now = unix_now();
        let entries: Vec<TransactWriteItem> = writes
            .iter()
            .cloned()
            .filter_map(|write| self.transact_item(write, now).transpose())
            .collect::<Result<_, _>>()
            .map_err(TransactionFailure::Other)?;
        if entries.is_empty() {
            return Ok(());
        }
        let result = self.client.transact_write_items().set_transact_items(Some(entries)).send().await;
        result.map(drop).map_err(transaction_error)
    }

    /// One `Query` request of a page, from `start`.
    async fn query_once(
        &self,
        query: &Query,
        x: Expressions,
        limit: usize,
        start: Option<Attrs>,
    ) -> Result<QueryAnswer, StoreError> {
        let (names, values) = placeholders(&x)?;
        let start = start.as_ref().map(to_sdk_map).transpose()?;
        let index_name = confab_dynamo_json::index_keys(query.index).2;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index_name.map(str::to_string))
            .set_key_condition_expression(x.key_condition)
            .set_filter_expression(x.filter)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .scan_index_forward(query.forward)
            .limit(limit as i32)
            // Strongly consistent on the table; DynamoDB offers no such reads on a GSI.
            .set_consistent_read(index_name.is_none().then_some(true))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(answer(out.items(), out.last_evaluated_key()))
    }

    /// One `Scan` request of a page, from `start`.
    async fn scan_once(
        &self,
        x: Expressions,
        limit: usize,
        start: Option<Attrs>,
    ) -> Result<QueryAnswer, StoreError> {
        let (names, values) = placeholders(&x)?;
        let start = start.as_ref().map(to_sdk_map).transpose()?;
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .set_filter_expression(x.filter)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .limit(limit as i32)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(answer(out.items(), out.last_evaluated_key()))
    }
}

/// A `Query` or `Scan` answer in DynamoDB JSON: its items and `LastEvaluatedKey`.
fn answer(items: &[SdkAttrs], last_key: Option<&SdkAttrs>) -> QueryAnswer {
    let items = items.iter().map(|item| Value::Object(from_sdk_map(item))).collect();
    (items, last_key.filter(|k| !k.is_empty()).map(from_sdk_map))
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        check_key(pk, sk)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)?))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let now = unix_now();
        Ok(decode(out.item())?.filter(|item| !is_expired(item, now)))
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        check_item(&item)?;
        let out = self
            .update_item(&item.pk, &item.sk, build::put(&item, condition, unix_now()))?
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        confab_dynamo_json::version_of(out.attributes().map(from_sdk_map).as_ref())
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        check_key(pk, sk)?;
        let x = build::conditional(condition, unix_now());
        let (names, values) = placeholders(&x)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)?))
            .set_condition_expression(x.condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let send = |x, limit, start| self.query_once(&query, x, limit, start);
        confab_dynamo_json::query(&query, unix_now, send).await
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Item, StoreError> {
        let update = |x| self.update_for_add(pk, sk, x);
        confab_dynamo_json::add(pk, sk, deltas, expires_at, unix_now, update).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        confab_dynamo_json::transact(&writes, || self.transact_once(&writes), tokio::time::sleep).await
    }

    async fn scan(&self, cursor: Option<String>, limit: u32) -> Result<Page, StoreError> {
        let send = |x, limit, start| self.scan_once(x, limit, start);
        confab_dynamo_json::scan(cursor.as_deref(), limit, unix_now, send).await
    }

    async fn restore(&self, item: Item) -> Result<bool, StoreError> {
        check_restore(&item)?;
        let x = build::restore(&item, unix_now());
        let written = self.update_item(&item.pk, &item.sk, x)?.send().await.map(drop).map_err(sdk_error);
        confab_dynamo_json::restored(written)
    }
}

/// The table key of an item, in the SDK's types.
fn key(pk: &str, sk: &str) -> Result<SdkAttrs, StoreError> {
    to_sdk_map(&confab_dynamo_json::key(pk, sk))
}

/// An item of an answer (`Item`, `Attributes`); `None` when absent or empty.
fn decode(attrs: Option<&SdkAttrs>) -> Result<Option<Item>, StoreError> {
    decode_optional(attrs.map(|attrs| Value::Object(from_sdk_map(attrs))).as_ref())
}

/// `ExpressionAttributeNames` in the SDK's types.
type Names = HashMap<String, String>;

/// A request's placeholders in the SDK's types (`None` when there are none: DynamoDB
/// refuses empty maps).
fn placeholders(x: &Expressions) -> Result<(Option<Names>, Option<SdkAttrs>), StoreError> {
    let names = (!x.names().is_empty()).then(|| x.names().clone().into_iter().collect());
    let values = (!x.values().is_empty()).then(|| to_sdk_map(x.values())).transpose()?;
    Ok((names, values))
}

/// Unix seconds by this process's clock (the adapter's clock, for expiry).
fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An SDK error as the port's (see `confab_dynamo_json::error_for_code`); the rest
/// (network, throttling after retries, access) is unavailable.
fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    err.code()
        .and_then(|code| confab_dynamo_json::error_for_code(code, err.message()))
        .unwrap_or_else(|| StoreError::Unavailable(DisplayErrorContext(&err).to_string()))
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Invalid(DisplayErrorContext(&err).to_string())
}

/// A failed `TransactWriteItems` as the port's error, and whether to try again.
fn transaction_error(err: SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> TransactionFailure {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error()
    else {
        return TransactionFailure::Other(sdk_error(err));
    };
    let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
    let unavailable = DisplayErrorContext(&err).to_string();
    confab_dynamo_json::cancelled_transaction(&codes, cancelled.message(), unavailable)
}
