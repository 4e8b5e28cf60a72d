//! Access tokens for a service's own calls to other services (the client credentials grant).
//!
//! A token is reused until shortly before it expires; one refresh runs at a time.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use super::{AuthSettings, discovery_url};

/// A token is renewed when less than this share of its lifetime is left.
const RENEW_AT_REMAINING: f64 = 0.2;

#[derive(Debug, thiserror::Error)]
pub enum ServiceTokenError {
    #[error("the issuer could not be reached: {0}")]
    Unreachable(String),
    #[error("the issuer refused the client credentials: {0}")]
    Refused(String),
}

struct Held {
    token: SecretString,
    renew_at: Instant,
}

/// A service account's tokens from the configured issuer.
pub struct ServiceTokens {
    http: reqwest::Client,
    issuer: String,
    client_id: String,
    secret: SecretString,
    scope: Option<String>,
    token_endpoint: tokio::sync::Mutex<Option<String>>,
    held: tokio::sync::Mutex<Option<Held>>,
}

impl std::fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokens").field("issuer", &self.issuer).field("client_id", &self.client_id).finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl ServiceTokens {
    pub fn new(
        settings: &AuthSettings,
        client_id: &str,
        secret: SecretString,
        scope: Option<&str>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: crate::outbound::client(Duration::from_millis(settings.http_timeout_ms))?,
            issuer: settings.issuer.clone(),
            client_id: client_id.to_owned(),
            secret,
            scope: scope.map(str::to_owned),
            token_endpoint: tokio::sync::Mutex::default(),
            held: tokio::sync::Mutex::default(),
        })
    }

    /// A current access token, fetched or renewed when needed.
    pub async fn token(&self) -> Result<SecretString, ServiceTokenError> {
        let mut held = self.held.lock().await;
        if let Some(current) = held.as_ref()
            && Instant::now() < current.renew_at
        {
            return Ok(current.token.clone());
        }
        let endpoint = self.token_endpoint().await?;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(&endpoint)
            .basic_auth(&self.client_id, Some(self.secret.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| ServiceTokenError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or_default();
            let error = body.get("error").and_then(Value::as_str).unwrap_or("no error code");
            return Err(ServiceTokenError::Refused(format!("status {status}, {error}")));
        }
        let issued: TokenResponse = response.json().await.map_err(|e| ServiceTokenError::Refused(e.to_string()))?;
        let lifetime = Duration::from_secs(issued.expires_in.unwrap_or(60));
        let token = SecretString::from(issued.access_token);
        *held =
            Some(Held { token: token.clone(), renew_at: Instant::now() + lifetime.mul_f64(1.0 - RENEW_AT_REMAINING) });
        Ok(token)
    }

    async fn token_endpoint(&self) -> Result<String, ServiceTokenError> {
        let mut endpoint = self.token_endpoint.lock().await;
        if let Some(known) = endpoint.as_ref() {
            return Ok(known.clone());
        }
        let url = discovery_url(&self.issuer);
        let unreachable = |e: reqwest::Error| ServiceTokenError::Unreachable(format!("GET {url}: {e}"));
        let document: Value =
            self.http.get(&url).send().await.map_err(unreachable)?.json().await.map_err(unreachable)?;
        let found = document
            .get("token_endpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceTokenError::Unreachable(format!("{url} has no token_endpoint")))?
            .to_owned();
        *endpoint = Some(found.clone());
        Ok(found)
    }
}
