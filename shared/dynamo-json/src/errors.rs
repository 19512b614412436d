//! What DynamoDB's errors mean for the port, the same in both adapters (only the texts
//! of `Unavailable` differ).

use crate::is_expired;
use confab_core::ports::store::{Item, StoreError};

/// The error code of a failed condition.
pub const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// The port's own variant for a DynamoDB error code, `None` for the codes that are
/// just `Unavailable` (network, throttling, access, missing table…).
pub fn error_for_code(code: &str, message: Option<&str>) -> Option<StoreError> {
    match code {
        CONDITION_FAILED => Some(StoreError::ConditionFailed),
        "ValidationException" => Some(invalid(message.unwrap_or("refused as invalid by DynamoDB"))),
        _ => None,
    }
}

/// DynamoDB reports an item over its size limit as a validation error.
fn invalid(message: &str) -> StoreError {
    if message.to_lowercase().contains("item size") {
        StoreError::TooLarge(message.to_string())
    } else {
        StoreError::Invalid(message.to_string())
    }
}

/// A query's error once a cursor was sent: the cursor was checked already, so a start
/// key DynamoDB refuses is still a bad cursor.
pub fn start_key_error(err: StoreError, had_cursor: bool) -> StoreError {
    match err {
        StoreError::Invalid(m) if had_cursor && m.to_lowercase().contains("start") => StoreError::BadCursor,
        other => other,
    }
}

/// What a failed first round of `add` leaves, from the item as it was: missing or
/// expired means "start afresh" (`Ok(None)`); live means a field is not a number or
/// its guard against overflow failed.
pub fn add_refused(old: Option<Item>, now: i64, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
    match old {
        Some(old) if !is_expired(&old, now) => Err(StoreError::Invalid(format!(
            "add to ({pk:?}, {sk:?}): a field is not an integer or would overflow"
        ))),
        _ => Ok(None),
    }
}

pub fn add_gave_up(pk: &str, sk: &str) -> StoreError {
    StoreError::Unavailable(format!("add to ({pk:?}, {sk:?}): the item kept changing, try again"))
}

pub enum TransactionFailure {
    /// Cancelled for a conflict with a concurrent transaction: nothing was written and
    /// trying again may succeed.
    Conflict(StoreError),
    Other(StoreError),
}

/// A cancelled transaction (`TransactionCanceledException`) as one port error, from its
/// reasons' codes: any failed condition makes it `ConditionFailed`; otherwise invalid
/// entries make it `Invalid`; the rest is `unavailable`.
pub fn cancelled_transaction(
    codes: &[&str],
    message: Option<&str>,
    unavailable: String,
) -> TransactionFailure {
    if codes.contains(&"ConditionalCheckFailed") {
        TransactionFailure::Other(StoreError::ConditionFailed)
    } else if codes.contains(&"ValidationError") {
        TransactionFailure::Other(invalid(message.unwrap_or("a write was refused as invalid")))
    } else if codes.contains(&"TransactionConflict") {
        TransactionFailure::Conflict(StoreError::Unavailable(unavailable))
    } else {
        TransactionFailure::Other(StoreError::Unavailable(unavailable))
    }
}
