//! The core's store conformance suite against `DynamoStore` on moto, one table per test.

use confab_aws::testing as common;

use confab_aws::DynamoStore;

async fn fresh_store() -> Box<DynamoStore> {
    let clients = common::clients().await;
    let store = DynamoStore::new(clients.dynamodb, common::unique_name("table"));
    store.create_table().await.expect("create the table");
    Box::new(store)
}

confab_core::store_conformance_tests!(fresh_store());
