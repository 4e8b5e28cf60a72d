//! Bearer-token authentication and authorization for every service (ADR 0007).
//!
//! A service is configured with an issuer URL and an audience (`auth.*`), nothing more: any
//! standards-conforming OpenID Connect provider can stand in for Flotilla's own identity service.
//! [`Caller`] is the extractor a handler asks for; it answers 401 (with `WWW-Authenticate`) when
//! the token is missing or not acceptable, and its helpers answer 403 when it is valid but not
//! enough. No request is trusted for where it comes from: calls between services carry tokens
//! too ([`ServiceTokens`]).

mod caller;
mod client_credentials;
mod crypto;
mod jwks;
mod oidc_client;
mod signing;
mod verifier;

pub use caller::{Admin, Caller, admin_only, roles};
pub use client_credentials::ServiceTokens;
pub use oidc_client::{OidcClient, OidcError, TokenSet};
pub use signing::{KeyError, SigningKey};
pub use verifier::{Rejection, TokenVerifier, discovery_url};

use serde::Deserialize;

/// Why a token verifier or an OpenID Connect client cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Config(String),
    #[error("cannot make an HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// `auth.*`: whose tokens this service accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The issuer exactly as it appears in tokens' `iss` (trailing slash and all). The identity
    /// service's URL unless set (see `Config::resolve_addresses`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// The `aud` a token must carry to be accepted here.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_s: u64,
    /// Keys are refetched at least this often, so that a withdrawn key stops being accepted.
    pub jwks_max_age_s: u64,
    /// At most one refetch for an unknown key id per this interval.
    pub jwks_min_refresh_interval_ms: u64,
    /// Timeout of each request to the issuer (discovery, JWKS, token endpoint).
    pub http_timeout_ms: u64,
    /// Where roles are in a token: `roles` (Flotilla, Entra ID), `realm_access.roles` (Keycloak).
    pub roles_claim: String,
}

impl AuthSettings {
    /// The issuer, which whoever checks or obtains tokens must have.
    pub fn issuer(&self) -> Result<&str, SetupError> {
        self.issuer.as_deref().ok_or_else(|| {
            SetupError::Config("auth.issuer: not set, and no identity service is registered to default to".into())
        })
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        self.issuer.as_deref().map(check_issuer).transpose()?;
        if self.audience.trim().is_empty() {
            return Err("auth.audience: must not be empty".into());
        }
        if self.jwks_min_refresh_interval_ms == 0 || self.http_timeout_ms == 0 || self.jwks_max_age_s == 0 {
            return Err(
                "auth: jwks_max_age_s, jwks_min_refresh_interval_ms and http_timeout_ms must be positive".into()
            );
        }
        Ok(())
    }
}

fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer)
        .map_err(|e| format!("auth.issuer: found \"{issuer}\", expected an absolute URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(format!("auth.issuer: found \"{issuer}\", expected https (plain http only on loopback)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("auth.issuer: an issuer has no query or fragment (OpenID Connect Discovery §3)".into());
    }
    Ok(())
}
