//! The core's store conformance suite against `DynamoHttpStore` on moto, one table per test.

use crate::common;

use confab_aws_http::DynamoHttpStore;

async fn fresh_store() -> Box<DynamoHttpStore> {
    Box::new(common::fresh_table().await.1)
}

confab_core::store_conformance_tests!(fresh_store());
