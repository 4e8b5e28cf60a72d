//! Access-token verification against an issuer's published keys.
//!
//! The keys come from the issuer's discovery document and JWKS, cached for `jwks_max_age_s`.
//! A token naming an unknown `kid` triggers a refetch (that is how a rotated key is picked up),
//! but at most one per `jwks_min_refresh_interval_ms`, so that tokens with made-up key ids cannot
//! turn a service into a load generator against its issuer.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::Value;

use super::jwks::{KeySet, Published};
use super::{AuthSettings, Caller, SetupError};

/// Why a token was not accepted. The text is safe to log: it never includes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not a well-formed JWT with a supported algorithm: {0}")]
    Malformed(String),
    #[error("the token's key id is not among the issuer's keys")]
    UnknownKey,
    #[error("the token's algorithm is not one its key verifies")]
    WrongAlgorithm,
    /// The issuer publishes the key, but it is too weak or malformed to verify with.
    #[error("the token's key is not acceptable: {0}")]
    UnacceptableKey(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token's claims are not valid: {0}")]
    InvalidClaims(String),
    /// Not the caller's fault: the keys could not be fetched. Answered with 503, not 401.
    #[error("the issuer's keys are unavailable: {0}")]
    IssuerUnavailable(String),
}

impl Rejection {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed(_) => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::WrongAlgorithm => "wrong_algorithm",
            Self::UnacceptableKey(_) => "unacceptable_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::InvalidClaims(_) => "invalid_claims",
            Self::IssuerUnavailable(_) => "issuer_unavailable",
        }
    }
}

const VERIFICATIONS: &str = "flotilla_auth_token_verifications_total";
const JWKS_FETCHES: &str = "flotilla_auth_jwks_fetches_total";

fn describe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(VERIFICATIONS, "Bearer tokens checked, by outcome (accepted, or why refused).");
        metrics::describe_counter!(JWKS_FETCHES, "Fetches of the issuer's keys, by outcome.");
    });
}

struct Cached {
    keys: KeySet,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct RefreshState {
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
}

/// Verifies bearer tokens for one service: one issuer, one audience.
pub struct TokenVerifier {
    /// Whose verifier it is, for the metrics' `service` label.
    service: &'static str,
    settings: AuthSettings,
    issuer: String,
    http: reqwest::Client,
    cached: RwLock<Arc<Cached>>,
    refresh: tokio::sync::Mutex<RefreshState>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.settings.audience)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    pub fn new(service: &'static str, settings: AuthSettings) -> Result<Self, SetupError> {
        super::crypto::install();
        describe();
        let issuer = settings.issuer()?.to_owned();
        let http = crate::outbound::client(Duration::from_millis(settings.http_timeout_ms))?;
        let cached = RwLock::new(Arc::new(Cached { keys: KeySet::default(), fetched_at: None }));
        Ok(Self { service, settings, issuer, http, cached, refresh: tokio::sync::Mutex::default() })
    }

    /// The issuer whose tokens it accepts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Verifies `token` and returns who is calling; logs and counts every outcome.
    pub async fn verify(&self, token: &str) -> Result<Caller, Rejection> {
        let result = self.check(token).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(rejection) => rejection.outcome(),
        };
        metrics::counter!(VERIFICATIONS, "service" => self.service, "outcome" => outcome).increment(1);
        result
    }

    /// Verifies an OpenID Connect ID token issued to `client_id` for the sign-in that sent `nonce`
    /// (Core §3.1.3.7): the same signature and time checks, the client as audience.
    pub async fn verify_id_token(&self, token: &str, client_id: &str, nonce: &str) -> Result<Caller, Rejection> {
        let claims = self.claims(token, client_id).await?;
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(Rejection::InvalidClaims("the nonce is not the one this sign-in sent".into()));
        }
        caller_from(&claims, &self.settings.roles_claim)
    }

    async fn check(&self, token: &str) -> Result<Caller, Rejection> {
        let claims = self.claims(token, &self.settings.audience).await?;
        caller_from(&claims, &self.settings.roles_claim)
    }

    async fn claims(&self, token: &str, audience: &str) -> Result<Value, Rejection> {
        let header = decode_header(token).map_err(|e| Rejection::Malformed(e.to_string()))?;
        let kid = header.kid.ok_or_else(|| Rejection::Malformed("the header has no kid".into()))?;
        let published = self.published(&kid).await?;
        let key = published.verifying_key(header.alg)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway_s;
        let claims = decode::<Value>(token, key, &validation).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => Rejection::BadSignature,
            ErrorKind::ExpiredSignature => Rejection::Expired,
            ErrorKind::ImmatureSignature => Rejection::NotYetValid,
            ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
            ErrorKind::InvalidAudience => Rejection::WrongAudience,
            ErrorKind::InvalidAlgorithm => Rejection::WrongAlgorithm,
            ErrorKind::MissingRequiredClaim(claim) => Rejection::InvalidClaims(format!("`{claim}` is missing")),
            _ => Rejection::InvalidClaims(e.to_string()),
        })?;
        Ok(claims.claims)
    }

    fn cached(&self) -> Arc<Cached> {
        self.cached.read().map(|guard| Arc::clone(&guard)).unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    fn is_fresh(&self, cached: &Cached) -> bool {
        cached.fetched_at.is_some_and(|at| at.elapsed() < Duration::from_secs(self.settings.jwks_max_age_s))
    }

    /// The keys the issuer publishes under `kid`: cached, or fetched again as the module says.
    async fn published(&self, kid: &str) -> Result<Published, Rejection> {
        let cached = self.cached();
        if let Some(key) = cached.keys.get(kid)
            && self.is_fresh(&cached)
        {
            return Ok(key.clone());
        }
        let mut state = self.refresh.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        let cached = self.cached();
        let known = cached.keys.get(kid).cloned();
        if known.is_some() && self.is_fresh(&cached) {
            return known.ok_or(Rejection::UnknownKey);
        }
        let min_interval = Duration::from_millis(self.settings.jwks_min_refresh_interval_ms);
        if state.last_attempt.is_some_and(|at| at.elapsed() < min_interval) {
            return match (known, cached.fetched_at) {
                (Some(key), _) => Ok(key),
                (None, Some(_)) => Err(Rejection::UnknownKey),
                (None, None) => Err(Rejection::IssuerUnavailable("the last attempt to fetch keys failed".into())),
            };
        }
        state.last_attempt = Some(Instant::now());
        match self.fetch(&mut state).await {
            Ok(keys) => {
                metrics::counter!(JWKS_FETCHES, "service" => self.service, "outcome" => "ok").increment(1);
                tracing::debug!(keys = keys.len(), "fetched the issuer's keys");
                let found = keys.get(kid).cloned();
                let fresh = Arc::new(Cached { keys, fetched_at: Some(Instant::now()) });
                match self.cached.write() {
                    Ok(mut guard) => *guard = fresh,
                    Err(poisoned) => *poisoned.into_inner() = fresh,
                }
                found.ok_or(Rejection::UnknownKey)
            }
            Err(error) => {
                metrics::counter!(JWKS_FETCHES, "service" => self.service, "outcome" => "failed").increment(1);
                tracing::warn!(%error, issuer = %self.issuer, "could not fetch the issuer's keys");
                state.jwks_uri = None;
                // A key already known stays usable while the issuer is unreachable.
                known.ok_or(Rejection::IssuerUnavailable(error))
            }
        }
    }

    async fn fetch(&self, state: &mut RefreshState) -> Result<KeySet, String> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let discovery = discovery_url(&self.issuer);
                let document = self.get_json(&discovery).await?;
                let issuer = document.get("issuer").and_then(Value::as_str).unwrap_or_default();
                // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer asked for.
                if issuer != self.issuer {
                    return Err(format!("{discovery} names issuer \"{issuer}\", not \"{}\"", self.issuer));
                }
                let uri = document
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{discovery} has no jwks_uri"))?
                    .to_owned();
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        KeySet::parse(&self.get_json(&jwks_uri).await?)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = crate::outbound::send(self.http.get(url)).await.map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: status {}", response.status()));
        }
        response.json().await.map_err(|e| format!("GET {url}: {e}"))
    }
}

/// `<issuer>/.well-known/openid-configuration`, as OpenID Connect Discovery forms it.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

fn caller_from(claims: &Value, roles_claim: &str) -> Result<Caller, Rejection> {
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Rejection::InvalidClaims("`sub` is not a non-empty string".into()))?;
    // `scope` is the RFC 9068 spelling; Entra ID and some others say `scp`.
    let scopes = ["scope", "scp"].iter().filter_map(|name| claims.get(*name)).flat_map(words).collect::<BTreeSet<_>>();
    let roles = roles_claim
        .split('.')
        .try_fold(claims, |value, segment| value.get(segment))
        .map(words)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let client_id = ["client_id", "azp"].iter().find_map(|name| claims.get(*name)?.as_str()).map(str::to_owned);
    Ok(Caller { subject: subject.to_owned(), scopes, roles, client_id })
}

/// A claim holding words: a space-separated string or an array of strings.
fn words(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_scopes_and_roles_in_the_shapes_providers_use() {
        let ours = json!({"sub": "u1", "scope": "openid basket", "roles": ["customer"], "client_id": "web"});
        let caller = caller_from(&ours, "roles").unwrap();
        assert_eq!(caller.scopes, BTreeSet::from(["openid".into(), "basket".into()]));
        assert!(caller.has_role("customer"));
        assert_eq!(caller.client_id.as_deref(), Some("web"));

        let keycloak = json!({"sub": "u2", "scp": ["a"], "realm_access": {"roles": ["admin"]}, "azp": "spa"});
        let caller = caller_from(&keycloak, "realm_access.roles").unwrap();
        assert!(caller.has_role("admin") && caller.scopes.contains("a"));
        assert_eq!(caller.client_id.as_deref(), Some("spa"));

        assert!(caller_from(&json!({"sub": ""}), "roles").is_err());
        assert!(caller_from(&json!({"sub": "x", "roles": 5}), "roles").unwrap().roles.is_empty());
    }

    #[test]
    fn discovery_lives_under_the_issuer_with_or_without_a_trailing_slash() {
        assert_eq!(discovery_url("https://id.example/"), "https://id.example/.well-known/openid-configuration");
        assert_eq!(discovery_url("https://kc/realms/x"), "https://kc/realms/x/.well-known/openid-configuration");
    }
}
