//! [`DynamoHttpStore`]: the store port on one DynamoDB table over DynamoDB's JSON API.
//! Layout, expressions, cursors and error meanings come from `confab_dynamo_json`, as
//! for confab-aws's `DynamoStore` (whose README is the contract), so the two read and
//! write the same table interchangeably; this module sends the requests and reads the
//! answers. Expiry is judged by the clock port.

use crate::client::{AwsConfig, Response, Service};
use async_trait::async_trait;
use bytes::Bytes;
use confab_core::ports::store::{Condition, Item, Page, Query, Store, StoreError, Write};
use confab_core::ports::{Clock, HttpClient};
use confab_dynamo_json::{
    Attrs, CONDITION_FAILED, Expressions, QueryAnswer, TransactionFailure, Updated, build, check_item,
    check_key, check_restore, decode_optional, index_keys, is_expired, key,
};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The store port on one DynamoDB table, over the HTTP client port. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoHttpStore {
    service: Service,
    table: String,
}

/// A DynamoDB error answer: its type (the part of `__type` after `#`), message and body.
struct ServiceError {
    code: String,
    message: Option<String>,
    body: Value,
}

enum CallError {
    Service(ServiceError),
    Unavailable(String),
}

impl DynamoHttpStore {
    /// A store on `table` (laid out as confab-aws's `DynamoStore::create_table` makes
    /// it). No network I/O.
    pub fn new(
        config: &AwsConfig,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        table: impl Into<String>,
    ) -> Self {
        let endpoint = config.dynamodb_endpoint.clone().unwrap_or_else(|| config.public_endpoint("dynamodb"));
        DynamoHttpStore {
            service: Service::new(config, "dynamodb", endpoint, http, clock),
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn now(&self) -> i64 {
        self.service.clock.now_unix()
    }

    /// One DynamoDB operation: its JSON answer, or its error.
    async fn call(&self, operation: &str, body: Map<String, Value>) -> Result<Value, CallError> {
        let body = serde_json::to_vec(&body).map_err(|e| CallError::Unavailable(e.to_string()))?;
        let request = http::Request::post(format!("{}/", self.service.endpoint))
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
            .body(Bytes::from(body))
            .map_err(|e| CallError::Unavailable(e.to_string()))?;
        let response = self.service.send(request).await.map_err(CallError::Unavailable)?;
        if response.status.is_success() {
            return serde_json::from_slice(&response.body).map_err(|e| {
                CallError::Unavailable(format!("DynamoDB {operation}: unreadable answer: {e}"))
            });
        }
        Err(service_error(operation, &response))
    }

    /// Like [`call`](Self::call), with errors as the port's.
    async fn call_store(&self, operation: &str, body: Map<String, Value>) -> Result<Value, StoreError> {
        self.call(operation, body).await.map_err(store_error)
    }

    /// A request on one item, with its expressions.
    fn request(&self, pk: &str, sk: &str, expressions: Expressions) -> Map<String, Value> {
        let mut request = Map::new();
        request.insert("TableName".into(), self.table.clone().into());
        request.insert("Key".into(), Value::Object(key(pk, sk)));
        expressions.add_to(&mut request);
        request
    }

    /// One of `add`'s `UpdateItem`s.
    async fn update_for_add(
        &self,
        pk: &str,
        sk: &str,
        expressions: Expressions,
    ) -> Result<Updated, StoreError> {
        let mut request = self.request(pk, sk, expressions);
        request.insert("ReturnValues".into(), "ALL_NEW".into());
        request.insert("ReturnValuesOnConditionCheckFailure".into(), "ALL_OLD".into());
        match self.call("UpdateItem", request).await {
            Ok(out) => decode_optional(out.get("Attributes")).map(Updated::New),
            Err(CallError::Service(failed)) if failed.code == CONDITION_FAILED => {
                decode_optional(failed.body.get("Item")).map(Updated::Refused)
            }
            Err(other) => Err(store_error(other)),
        }
    }

    /// One `TransactWriteItems` entry, or `None` for a check that always holds.
    fn transact_item(&self, write: Write, now: i64) -> Option<Value> {
        let (kind, entry) = match write {
            Write::Put { item, condition } => {
                ("Update", self.request(&item.pk, &item.sk, build::put(&item, condition, now)))
            }
            Write::Delete { pk, sk, condition } => {
                ("Delete", self.request(&pk, &sk, build::conditional(condition, now)))
            }
            Write::Check { pk, sk, condition } => {
                let expressions = build::conditional(condition, now);
                expressions.condition.as_ref()?;
                ("ConditionCheck", self.request(&pk, &sk, expressions))
            }
        };
        Some(json!({ kind: entry }))
    }

    /// One `TransactWriteItems` of the writes, built at this moment (nothing to send
    /// when every write is a check that always holds).
    async fn transact_once(&self, writes: &[Write]) -> Result<(), TransactionFailure> {
        let now = self.now();
        let entries: Vec<Value> =
            writes.iter().cloned().filter_map(|write| self.transact_item(write, now)).collect();
        if entries.is_empty() {
            return Ok(());
        }
        let mut request = Map::new();
        request.insert("TransactItems".into(), entries.into());
        self.call("TransactWriteItems", request).await.map(drop).map_err(transaction_error)
    }

    /// One `Query` request of a page, from `start`.
    async fn query_once(
        &self,
        query: &Query,
        expressions: Expressions,
        limit: usize,
        start: Option<Attrs>,
    ) -> Result<QueryAnswer, StoreError> {
        let mut request = Map::new();
        request.insert("TableName".into(), self.table.clone().into());
        request.insert("ScanIndexForward".into(), query.forward.into());
        request.insert("Limit".into(), limit.into());
        match index_keys(query.index).2 {
            Some(index) => request.insert("IndexName".into(), index.into()),
            // Strongly consistent on the table; DynamoDB offers no such reads on a GSI.
            None => request.insert("ConsistentRead".into(), true.into()),
        };
        self.page_request("Query", request, expressions, start).await
    }

    /// One `Scan` request of a page, from `start`.
    async fn scan_once(
        &self,
        expressions: Expressions,
        limit: usize,
        start: Option<Attrs>,
    ) -> Result<QueryAnswer, StoreError> {
        let mut request = Map::new();
        request.insert("TableName".into(), self.table.clone().into());
        request.insert("Limit".into(), limit.into());
        request.insert("ConsistentRead".into(), true.into());
        self.page_request("Scan", request, expressions, start).await
    }

    /// A `Query` or `Scan` request with its expressions, from `start`: its items and
    /// `LastEvaluatedKey`.
    async fn page_request(
        &self,
        operation: &str,
        mut request: Map<String, Value>,
        expressions: Expressions,
        start: Option<Attrs>,
    ) -> Result<QueryAnswer, StoreError> {
        if let Some(start) = start {
            request.insert("ExclusiveStartKey".into(), Value::Object(start));
        }
        expressions.add_to(&mut request);
        let mut out = self.call_store(operation, request).await?;
        let items = match out.get_mut("Items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let last_key = match out.get_mut("LastEvaluatedKey").map(Value::take) {
            Some(Value::Object(key)) => Some(key),
            _ => None,
        };
        Ok((items, last_key))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Store for DynamoHttpStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        check_key(pk, sk)?;
        let mut request = self.request(pk, sk, Expressions::default());
        request.insert("ConsistentRead".into(), true.into());
        let out = self.call_store("GetItem", request).await?;
        let now = self.now();
        Ok(decode_optional(out.get("Item"))?.filter(|item| !is_expired(item, now)))
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        check_item(&item)?;
        let mut request = self.request(&item.pk, &item.sk, build::put(&item, condition, self.now()));
        request.insert("ReturnValues".into(), "UPDATED_NEW".into());
        let out = self.call_store("UpdateItem", request).await?;
        confab_dynamo_json::version_of(out.get("Attributes").and_then(Value::as_object))
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        check_key(pk, sk)?;
        let request = self.request(pk, sk, build::conditional(condition, self.now()));
        self.call_store("DeleteItem", request).await?;
        Ok(())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let send = |x, limit, start| self.query_once(&query, x, limit, start);
        confab_dynamo_json::query(&query, || self.now(), send).await
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Item, StoreError> {
        let update = |x| self.update_for_add(pk, sk, x);
        confab_dynamo_json::add(pk, sk, deltas, expires_at, || self.now(), update).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let sleep = |pause| self.service.clock.sleep(pause);
        confab_dynamo_json::transact(&writes, || self.transact_once(&writes), sleep).await
    }

    async fn scan(&self, cursor: Option<String>, limit: u32) -> Result<Page, StoreError> {
        let send = |x, limit, start| self.scan_once(x, limit, start);
        confab_dynamo_json::scan(cursor.as_deref(), limit, || self.now(), send).await
    }

    async fn restore(&self, item: Item) -> Result<bool, StoreError> {
        check_restore(&item)?;
        let request = self.request(&item.pk, &item.sk, build::restore(&item, self.now()));
        confab_dynamo_json::restored(self.call_store("UpdateItem", request).await.map(drop))
    }
}

/// A DynamoDB error answer: its type from `__type` (or the `x-amzn-ErrorType` header),
/// else the whole answer as `Unavailable`.
fn service_error(operation: &str, response: &Response) -> CallError {
    let json = serde_json::from_slice::<Value>(&response.body).unwrap_or(Value::Null);
    let kind = json.get("__type").and_then(Value::as_str).or_else(|| {
        let header = response.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok());
        header.map(|t| t.split(':').next().unwrap_or(t))
    });
    let Some(kind) = kind else {
        let text = String::from_utf8_lossy(&response.body);
        return CallError::Unavailable(format!("DynamoDB {operation}: {}: {text}", response.status));
    };
    // `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`
    let code = kind.rsplit('#').next().unwrap_or(kind).to_string();
    let message = ["message", "Message"].iter().find_map(|m| json.get(*m).and_then(Value::as_str));
    let message = message.map(str::to_string);
    CallError::Service(ServiceError { code, message, body: json })
}

/// A DynamoDB error as the port's (see `confab_dynamo_json::error_for_code`).
fn store_error(err: CallError) -> StoreError {
    match err {
        CallError::Service(e) => confab_dynamo_json::error_for_code(&e.code, e.message.as_deref())
            .unwrap_or_else(|| {
                StoreError::Unavailable(format!("DynamoDB: {}: {}", e.code, e.message.unwrap_or_default()))
            }),
        CallError::Unavailable(message) => StoreError::Unavailable(message),
    }
}

/// A failed `TransactWriteItems` as the port's error, and whether to try again.
fn transaction_error(err: CallError) -> TransactionFailure {
    let cancelled = match err {
        CallError::Service(e) if e.code == "TransactionCanceledException" => e,
        other => return TransactionFailure::Other(store_error(other)),
    };
    let reasons = cancelled.body.get("CancellationReasons").and_then(Value::as_array);
    let codes: Vec<&str> =
        reasons.into_iter().flatten().filter_map(|r| r.get("Code").and_then(Value::as_str)).collect();
    let message = cancelled.message.as_deref();
    let unavailable = format!("DynamoDB: transaction cancelled: {}", message.unwrap_or_default());
    confab_dynamo_json::cancelled_transaction(&codes, message, unavailable)
}
