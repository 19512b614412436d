//! [`DynamoStore`]: the store port on one DynamoDB table. The key design (how port items
//! map to attributes) is written down in this crate's README.
//!
//! Every write is one `UpdateItem` (or one `TransactWriteItems`), so that the version
//! bump (`v = if_not_exists(v, 0) + 1`) and the port's condition are checked and applied
//! atomically by DynamoDB; nothing is read-modify-written. Expiry is judged by this
//! process's clock: conditions and query filters compare `expires_at` with "now" sent
//! as a value, and reads drop expired items.

mod codec;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use codec::{Expr, decode_item, is_expired, key, n, s, to_attr_map};
use confab_core::ports::store::{
    Condition, Index, Item, MAX_PAGE, MAX_TRANSACTION_WRITES, Page, Query, SkRange, Store, StoreError, Write,
};
use serde_json::Map;
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The table's attribute names. Item data lives in the map `d`, so data field names
/// never meet these.
pub(crate) mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const GSI1PK: &str = "gsi1pk";
    pub const GSI1SK: &str = "gsi1sk";
    pub const DATA: &str = "d";
    /// The table's TTL attribute (unix seconds).
    pub const EXPIRES_AT: &str = "expires_at";
    pub const VERSION: &str = "v";
}

/// The name of the secondary index over `gsi1pk`/`gsi1sk`.
pub const GSI1: &str = "gsi1";

/// DynamoDB requests one query page may take to fill a page that expired items (filtered
/// after DynamoDB applies `Limit`) left short; after these the page goes out short with
/// its cursor, as the port allows.
const MAX_QUERY_REQUESTS: usize = 4;
/// Rounds of "add to the live item, else start it afresh" before `add` gives up (each
/// round is lost only to a concurrent create or expiry of the same item).
const MAX_ADD_ROUNDS: usize = 8;
/// Attempts of a transaction that DynamoDB cancels for a conflict with another one.
const MAX_TRANSACTION_ATTEMPTS: u32 = 4;

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

    /// One round of `add` on a live item: `Ok(None)` when there is no live item.
    async fn add_to_live(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Option<Item>, StoreError> {
        let now = unix_now();
        let mut e = Expr::default();
        let mut conditions = vec![live(&mut e, now)];
        let mut sets = Vec::new();
        for &(field, delta) in deltas {
            let path = e.field(field);
            let (zero, delta_value) = (e.value(n(0)), e.value(n(delta)));
            sets.push(format!("{path} = if_not_exists({path}, {zero}) + {delta_value}"));
            // The field is a number (checked first: comparing another type with a number
            // is false in DynamoDB but an error in moto), and the sum stays an i64
            // (DynamoDB numbers have 38 digits).
            let number = e.value(s("N"));
            let mut guard = format!("attribute_type({path}, {number})");
            if delta > 0 {
                let limit = e.value(n(i64::MAX - delta));
                guard += &format!(" AND {path} <= {limit}");
            } else if delta < 0 {
                let limit = e.value(n(i64::MIN - delta));
                guard += &format!(" AND {path} >= {limit}");
            }
            conditions.push(format!("(attribute_not_exists({path}) OR ({guard}))"));
        }
        let (version, one) = (e.attr(attr::VERSION), e.value(n(1)));
        sets.push(format!("{version} = {version} + {one}"));
        if let Some(at) = expires_at {
            let (exp, at) = (e.attr(attr::EXPIRES_AT), e.value(n(at)));
            sets.push(format!("{exp} = {at}"));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes().map(decode_item).transpose(),
            Err(err) => {
                let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
                else {
                    return Err(sdk_error(err));
                };
                // The item as it was: missing or expired means "start afresh"; live means
                // an overflow guard failed (or a field isn't a number).
                match failed.item().filter(|old| !old.is_empty()).map(decode_item).transpose()? {
                    Some(old) if !is_expired(&old, now) => Err(StoreError::Invalid(format!(
                        "add to ({pk:?}, {sk:?}): a field is not an integer or would overflow"
                    ))),
                    _ => Ok(None),
                }
            }
        }
    }

    /// One round of `add` creating the item afresh (over nothing or an expired item):
    /// `Ok(None)` when a live item is there after all.
    async fn add_fresh(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Option<Item>, StoreError> {
        let now = unix_now();
        let mut e = Expr::default();
        let data: Map<String, serde_json::Value> =
            deltas.iter().map(|&(field, delta)| (field.to_string(), delta.into())).collect();
        let update = write_expression(&mut e, &data, None, expires_at);
        let condition = absent(&mut e, now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes().map(decode_item).transpose(),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(err) => Err(sdk_error(err)),
        }
    }

    /// One `TransactWriteItems` entry, or `None` for a check that always holds.
    fn transact_item(&self, write: Write, now: i64) -> Result<Option<TransactWriteItem>, StoreError> {
        let mut e = Expr::default();
        let entry = match write {
            Write::Put { item, condition } => {
                let update = write_expression(&mut e, &item.data, item.gsi1.as_ref(), item.expires_at);
                let condition = condition_expression(&mut e, condition, now);
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(&item.pk, &item.sk)))
                    .update_expression(update)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update).build()
            }
            Write::Delete { pk, sk, condition } => {
                let condition = condition_expression(&mut e, condition, now);
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(&pk, &sk)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            Write::Check { pk, sk, condition } => {
                let Some(condition) = condition_expression(&mut e, condition, now) else {
                    return Ok(None);
                };
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(&pk, &sk)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(Some(entry))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        check_key(pk, sk)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let now = unix_now();
        Ok(out.item().map(decode_item).transpose()?.filter(|item| !is_expired(item, now)))
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        check_item_keys(&item)?;
        let mut e = Expr::default();
        let update = write_expression(&mut e, &item.data, item.gsi1.as_ref(), item.expires_at);
        let condition = condition_expression(&mut e, condition, unix_now());
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&item.pk, &item.sk)))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        codec::version_of(out.attributes())
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        check_key(pk, sk)?;
        let mut e = Expr::default();
        let condition = condition_expression(&mut e, condition, unix_now());
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        if query.pk.is_empty() {
            return Err(StoreError::Invalid("query with an empty partition key".into()));
        }
        let limit = query.limit.clamp(1, MAX_PAGE) as usize;
        let mut start = query
            .cursor
            .as_deref()
            .map(|c| codec::decode_cursor(c, query.index, &query.pk, &query.range))
            .transpose()?;
        let (pk_attr, sk_attr, index_name) = match query.index {
            Index::Primary => (attr::PK, attr::SK, None),
            Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK, Some(GSI1)),
        };
        let mut items = Vec::new();
        for _ in 0..MAX_QUERY_REQUESTS {
            let now = unix_now();
            let mut e = Expr::default();
            let (pk_name, pk_value) = (e.attr(pk_attr), e.value(s(&query.pk)));
            let mut key_condition = format!("{pk_name} = {pk_value}");
            match &query.range {
                SkRange::All => {}
                SkRange::Prefix(prefix) if prefix.is_empty() => {}
                SkRange::Prefix(prefix) => {
                    let (sk, prefix) = (e.attr(sk_attr), e.value(s(prefix)));
                    key_condition += &format!(" AND begins_with({sk}, {prefix})");
                }
                // Sort keys are never empty, and DynamoDB refuses empty key values.
                SkRange::Between(low, high) if low > high || high.is_empty() => {
                    return Ok(Page::default());
                }
                SkRange::Between(low, high) if low.is_empty() => {
                    let (sk, high) = (e.attr(sk_attr), e.value(s(high)));
                    key_condition += &format!(" AND {sk} <= {high}");
                }
                SkRange::Between(low, high) => {
                    let (sk, low, high) = (e.attr(sk_attr), e.value(s(low)), e.value(s(high)));
                    key_condition += &format!(" AND {sk} BETWEEN {low} AND {high}");
                }
            }
            let (exp, now_value) = (e.attr(attr::EXPIRES_AT), e.value(n(now)));
            let filter = format!("attribute_not_exists({exp}) OR {exp} > {now_value}");
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index_name.map(str::to_string))
                .key_condition_expression(key_condition)
                .filter_expression(filter)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(query.forward)
                .limit((limit - items.len()) as i32)
                // Strongly consistent on the table; DynamoDB offers no such reads on a GSI.
                .set_consistent_read(index_name.is_none().then_some(true))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| match sdk_error(err) {
                    // Checked above already; DynamoDB's word on start keys is final.
                    StoreError::Invalid(m)
                        if query.cursor.is_some() && m.to_lowercase().contains("start") =>
                    {
                        StoreError::BadCursor
                    }
                    other => other,
                })?;
            for found in out.items() {
                let item = decode_item(found)?;
                if !is_expired(&item, now) {
                    items.push(item);
                }
            }
            start = out.last_evaluated_key().filter(|k| !k.is_empty()).cloned();
            if start.is_none() || items.len() >= limit {
                break;
            }
        }
        let cursor = start.as_ref().map(codec::encode_cursor).transpose()?;
        Ok(Page { items, cursor })
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Item, StoreError> {
        check_key(pk, sk)?;
        let mut fields = HashSet::new();
        if let Some((twice, _)) = deltas.iter().find(|(field, _)| !fields.insert(*field)) {
            return Err(StoreError::Invalid(format!("add names the field {twice:?} twice")));
        }
        for _ in 0..MAX_ADD_ROUNDS {
            if let Some(item) = self.add_to_live(pk, sk, deltas, expires_at).await? {
                return Ok(item);
            }
            if let Some(item) = self.add_fresh(pk, sk, deltas, expires_at).await? {
                return Ok(item);
            }
        }
        Err(StoreError::Unavailable(format!("add to ({pk:?}, {sk:?}): the item kept changing, try again")))
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.len() > MAX_TRANSACTION_WRITES {
            return Err(StoreError::Invalid(format!(
                "a transaction of {} writes (at most {MAX_TRANSACTION_WRITES})",
                writes.len()
            )));
        }
        let mut keys = HashSet::new();
        for write in &writes {
            let (pk, sk) = match write {
                Write::Put { item, .. } => {
                    check_item_keys(item)?;
                    (item.pk.as_str(), item.sk.as_str())
                }
                Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => {
                    check_key(pk, sk)?;
                    (pk.as_str(), sk.as_str())
                }
            };
            if !keys.insert((pk, sk)) {
                return Err(StoreError::Invalid(format!(
                    "two writes on ({pk:?}, {sk:?}) in one transaction"
                )));
            }
        }
        let mut attempt = 0;
        loop {
            let now = unix_now();
            let entries: Vec<TransactWriteItem> = writes
                .iter()
                .cloned()
                .filter_map(|write| self.transact_item(write, now).transpose())
                .collect::<Result<_, _>>()?;
            if entries.is_empty() {
                return Ok(());
            }
            let result = self.client.transact_write_items().set_transact_items(Some(entries)).send().await;
            let Err(err) = result else { return Ok(()) };
            attempt += 1;
            match transaction_error(err) {
                TransactionFailure::Conflict(_) if attempt < MAX_TRANSACTION_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                TransactionFailure::Conflict(e) | TransactionFailure::Other(e) => return Err(e),
            }
        }
    }
}

/// The update expression that makes the item exactly this (all attributes but the
/// keys are set or removed) and bumps its version.
fn write_expression(
    e: &mut Expr,
    data: &Map<String, serde_json::Value>,
    gsi1: Option<&(String, String)>,
    expires_at: Option<i64>,
) -> String {
    let (d, data) = (e.attr(attr::DATA), e.value(AttributeValue::M(to_attr_map(data))));
    let (v, zero, one) = (e.attr(attr::VERSION), e.value(n(0)), e.value(n(1)));
    let mut sets = vec![format!("{d} = {data}"), format!("{v} = if_not_exists({v}, {zero}) + {one}")];
    let mut removes = Vec::new();
    match gsi1 {
        Some((gpk, gsk)) => {
            let (gpk_name, gpk) = (e.attr(attr::GSI1PK), e.value(s(gpk)));
            let (gsk_name, gsk) = (e.attr(attr::GSI1SK), e.value(s(gsk)));
            sets.push(format!("{gpk_name} = {gpk}"));
            sets.push(format!("{gsk_name} = {gsk}"));
        }
        None => {
            removes.push(e.attr(attr::GSI1PK));
            removes.push(e.attr(attr::GSI1SK));
        }
    }
    match expires_at {
        Some(at) => {
            let (exp, at) = (e.attr(attr::EXPIRES_AT), e.value(n(at)));
            sets.push(format!("{exp} = {at}"));
        }
        None => removes.push(e.attr(attr::EXPIRES_AT)),
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression += &format!(" REMOVE {}", removes.join(", "));
    }
    expression
}

/// The item exists and has not expired.
fn live(e: &mut Expr, now: i64) -> String {
    let (pk, exp, now) = (e.attr(attr::PK), e.attr(attr::EXPIRES_AT), e.value(n(now)));
    format!("attribute_exists({pk}) AND (attribute_not_exists({exp}) OR {exp} > {now})")
}

/// There is no item, or only an expired one.
fn absent(e: &mut Expr, now: i64) -> String {
    let (pk, exp, now) = (e.attr(attr::PK), e.attr(attr::EXPIRES_AT), e.value(n(now)));
    format!("attribute_not_exists({pk}) OR {exp} <= {now}")
}

fn condition_expression(e: &mut Expr, condition: Condition, now: i64) -> Option<String> {
    match condition {
        Condition::Always => None,
        Condition::NotExists => Some(absent(e, now)),
        Condition::Exists => Some(live(e, now)),
        Condition::Version(version) => {
            let live = live(e, now);
            let (v, version) = (e.attr(attr::VERSION), e.value(n(version)));
            Some(format!("{live} AND {v} = {version}"))
        }
    }
}

fn check_key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid(format!("empty key part in ({pk:?}, {sk:?})")));
    }
    Ok(())
}

fn check_item_keys(item: &Item) -> Result<(), StoreError> {
    check_key(&item.pk, &item.sk)?;
    match &item.gsi1 {
        Some((gpk, gsk)) if gpk.is_empty() || gsk.is_empty() => Err(StoreError::Invalid(format!(
            "empty gsi1 key part in ({gpk:?}, {gsk:?}) of ({:?}, {:?})",
            item.pk, item.sk
        ))),
        _ => Ok(()),
    }
}

/// Unix seconds by this process's clock (the adapter's clock, for expiry).
fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An SDK error as the port's: a failed condition, a request DynamoDB refused as
/// invalid, or anything else (network, throttling after retries, access) unavailable.
fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ValidationException") => {
            StoreError::Invalid(err.message().unwrap_or("refused as invalid by DynamoDB").to_string())
        }
        _ => StoreError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Invalid(DisplayErrorContext(&err).to_string())
}

enum TransactionFailure {
    /// Cancelled for a conflict with a concurrent transaction: nothing was written and
    /// trying again may succeed.
    Conflict(StoreError),
    Other(StoreError),
}

/// The reasons of a cancelled transaction as one port error: any failed condition makes
/// it `ConditionFailed`; otherwise invalid entries make it `Invalid`.
fn transaction_error(err: SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> TransactionFailure {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error()
    else {
        return TransactionFailure::Other(sdk_error(err));
    };
    let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
    if codes.contains(&"ConditionalCheckFailed") {
        TransactionFailure::Other(StoreError::ConditionFailed)
    } else if codes.contains(&"ValidationError") {
        let message = cancelled.message().unwrap_or("a write was refused as invalid").to_string();
        TransactionFailure::Other(StoreError::Invalid(message))
    } else {
        let error = StoreError::Unavailable(DisplayErrorContext(&err).to_string());
        if codes.contains(&"TransactionConflict") {
            TransactionFailure::Conflict(error)
        } else {
            TransactionFailure::Other(error)
        }
    }
}
