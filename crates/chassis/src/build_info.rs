//! What this binary is: product version, git commit and build time, stamped by `build.rs`.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const PRODUCT: &str = "flotilla";
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("FLOTILLA_GIT_COMMIT");
const BUILD_EPOCH: &str = env!("FLOTILLA_BUILD_EPOCH");

/// Build time as RFC 3339, UTC.
pub fn build_time() -> String {
    BUILD_EPOCH
        .parse::<i64>()
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Which build of which service answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "product": "flotilla", "product_version": "0.1.0", "service": "catalog", "service_version": "0.1.0",
    "api_version": "1.0.0",
    "message_contracts": ["flotilla.catalog.product-created.v1", "flotilla.catalog.product-updated.v1"],
    "git_commit": "904b99a1c2d3", "build_time": "2026-12-01T19:47:46Z"
}))]
pub struct VersionInfo {
    /// The product the service belongs to.
    pub product: &'static str,
    /// The product's release (SemVer).
    pub product_version: &'static str,
    /// The service's name.
    pub service: &'static str,
    /// The service's own version (SemVer).
    pub service_version: &'static str,
    /// The version of the service's API contract, as its OpenAPI document's `info.version`.
    pub api_version: &'static str,
    /// The message types it publishes (CloudEvents `type`), each ending in its contract's major
    /// version; empty for a service that publishes none.
    pub message_contracts: Vec<&'static str>,
    /// The source revision it was built from, or `unknown`.
    pub git_commit: &'static str,
    /// When it was built (RFC 3339, UTC), or `unknown`.
    pub build_time: String,
}

impl VersionInfo {
    pub fn new(
        service: &'static str,
        service_version: &'static str,
        api_version: &'static str,
        message_contracts: &[&'static str],
    ) -> Self {
        Self {
            product: PRODUCT,
            product_version: PRODUCT_VERSION,
            service,
            service_version,
            api_version,
            message_contracts: message_contracts.to_vec(),
            git_commit: GIT_COMMIT,
            build_time: build_time(),
        }
    }
}
