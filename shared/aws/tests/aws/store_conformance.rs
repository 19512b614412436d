//! The core's store conformance suite against `DynamoStore` on moto, one table per test.

use confab_aws::testing as common;

use confab_aws::DynamoStore;

async fn fresh_store() -> Box<DynamoStore> {
    Box::new(common::dynamo::fresh_table().await)
}

confab_core::store_conformance_tests!(fresh_store());
