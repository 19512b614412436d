//! What both adapters refuse before sending anything (`Invalid`, `TooLarge`).

use confab_core::ports::store::{Item, MAX_TRANSACTION_WRITES, StoreError, Write};
use std::collections::HashSet;

pub fn check_key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid(format!("empty key part in ({pk:?}, {sk:?})")));
    }
    Ok(())
}

/// An item's keys, and its size: DynamoDB refuses an item over its limit, but an
/// emulator may write part of it, so the adapters refuse it first.
pub fn check_item(item: &Item) -> Result<(), StoreError> {
    check_key(&item.pk, &item.sk)?;
    item.check_size()?;
    match &item.gsi1 {
        Some((gpk, gsk)) if gpk.is_empty() || gsk.is_empty() => Err(StoreError::Invalid(format!(
            "empty gsi1 key part in ({gpk:?}, {gsk:?}) of ({:?}, {:?})",
            item.pk, item.sk
        ))),
        _ => Ok(()),
    }
}

/// An `add`'s key and fields: one update expression can't name a field twice.
pub fn check_deltas(pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<(), StoreError> {
    check_key(pk, sk)?;
    let mut fields = HashSet::new();
    match deltas.iter().find(|(field, _)| !fields.insert(*field)) {
        Some((twice, _)) => Err(StoreError::Invalid(format!("add names the field {twice:?} twice"))),
        None => Ok(()),
    }
}

/// At most [`MAX_TRANSACTION_WRITES`] writes, with valid and distinct keys (DynamoDB
/// refuses two entries on one item).
pub fn check_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Invalid(format!(
            "a transaction of {} writes (at most {MAX_TRANSACTION_WRITES})",
            writes.len()
        )));
    }
    let mut keys = HashSet::new();
    for write in writes {
        let (pk, sk) = match write {
            Write::Put { item, .. } => {
                check_item(item)?;
                (item.pk.as_str(), item.sk.as_str())
            }
            Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => {
                check_key(pk, sk)?;
                (pk.as_str(), sk.as_str())
            }
        };
        if !keys.insert((pk, sk)) {
            return Err(StoreError::Invalid(format!("two writes on ({pk:?}, {sk:?}) in one transaction")));
        }
    }
    Ok(())
}
