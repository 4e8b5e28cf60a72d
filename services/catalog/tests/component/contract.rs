use flotilla_testkit::Backend;
use serde_json::Value;

use crate::support::*;

/// The committed OpenAPI document is what the code serves. `UPDATE_CONTRACTS=1` rewrites it.
#[tokio::test]
async fn the_committed_openapi_document_matches_the_code() {
    let app = catalog(Backend::Sqlite).await;
    flotilla_testkit::assert_committed_openapi(&app).await;
    app.stop().await;
}

/// The shapes clients see, pinned.
#[tokio::test]
async fn response_shapes() {
    let app = catalog(Backend::Sqlite).await;
    let created = create(&app, &product("KIT-0001", "Cast-Iron Skillet")).await;
    insta::assert_json_snapshot!("product", created, {".id" => "[uuid]", ".created_at" => "[time]", ".updated_at" => "[time]"});

    let page = list(&app, "?limit=1").await;
    insta::assert_json_snapshot!("page", page, {".items[].id" => "[uuid]", ".items[].created_at" => "[time]", ".items[].updated_at" => "[time]"});

    let response = app.admin.post(app.url(PRODUCTS)).json(&serde_json::json!({"sku": "x"})).send().await.unwrap();
    let problem: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!("validation_problem", problem);
    app.stop().await;
}
