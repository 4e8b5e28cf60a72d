use flotilla_testkit::Backend;

use crate::support::*;

/// The committed OpenAPI document is what the code serves. `UPDATE_CONTRACTS=1` rewrites it.
#[tokio::test]
async fn the_committed_openapi_document_matches_the_code() {
    let world = world(Backend::Sqlite, &[]).await;
    flotilla_testkit::assert_committed_openapi(&world.app).await;
    world.stop().await;
}
