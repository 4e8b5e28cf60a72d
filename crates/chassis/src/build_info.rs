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

/// The body of `/version`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub product: &'static str,
    pub product_version: &'static str,
    pub service: &'static str,
    pub service_version: &'static str,
    pub git_commit: &'static str,
    pub build_time: String,
}

impl VersionInfo {
    pub fn new(service: &'static str, service_version: &'static str) -> Self {
        Self {
            product: PRODUCT,
            product_version: PRODUCT_VERSION,
            service,
            service_version,
            git_commit: GIT_COMMIT,
            build_time: build_time(),
        }
    }
}
