use flotilla_testkit::Backend;

use crate::support::identity;

/// The committed OpenAPI document is what the code serves. `UPDATE_CONTRACTS=1` rewrites it.
#[tokio::test]
async fn the_committed_openapi_document_matches_the_code() {
    flotilla_testkit::assert_committed_openapi(&identity(Backend::Sqlite, &[]).await).await;
}
