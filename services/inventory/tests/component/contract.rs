use flotilla_testkit::Backend;

use crate::support::*;

/// The committed OpenAPI document is what the code serves. `UPDATE_CONTRACTS=1` rewrites it.
#[tokio::test]
async fn the_committed_openapi_document_matches_the_code() {
    let (app, _nats) = service(Backend::Sqlite, &[]).await;
    flotilla_testkit::assert_committed_openapi(&app).await;
    app.stop().await;
}
