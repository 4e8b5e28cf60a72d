//! A client of `auth.issuer`'s OAuth endpoints, confidential when it has a secret (HTTP Basic),
//! else public (PKCE protects its codes): discovery, the authorization URL, the token endpoint for
//! every grant, revocation. The gateway signs browsers in with it; `ServiceTokens` gets service
//! accounts' tokens with it.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{AuthSettings, SetupError, discovery_url};

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the identity provider refused: {0}")]
    Refused(String),
}

#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
    revocation: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub expires_in: Option<i64>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

pub struct OidcClient {
    issuer: String,
    client_id: String,
    secret: Option<SecretString>,
    http: reqwest::Client,
    /// Discovered once; a failed discovery is tried again on the next call.
    endpoints: OnceCell<Endpoints>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient").field("issuer", &self.issuer).field("client_id", &self.client_id).finish()
    }
}

impl OidcClient {
    pub fn new(settings: &AuthSettings, client_id: &str, secret: Option<SecretString>) -> Result<Self, SetupError> {
        Ok(Self {
            issuer: settings.issuer()?.to_owned(),
            client_id: client_id.to_owned(),
            secret,
            http: crate::outbound::client(Duration::from_millis(settings.http_timeout_ms))?,
            endpoints: OnceCell::new(),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn endpoints(&self) -> Result<&Endpoints, OidcError> {
        self.endpoints
            .get_or_try_init(|| async {
                let url = discovery_url(&self.issuer);
                let unreachable = |e: reqwest::Error| OidcError::Unreachable(format!("GET {url}: {e}"));
                let doc: Value =
                    self.http.get(&url).send().await.map_err(unreachable)?.json().await.map_err(unreachable)?;
                let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
                Ok(Endpoints {
                    authorization: text("authorization_endpoint")
                        .ok_or_else(|| OidcError::Unreachable(format!("{url} has no authorization_endpoint")))?,
                    token: text("token_endpoint")
                        .ok_or_else(|| OidcError::Unreachable(format!("{url} has no token_endpoint")))?,
                    revocation: text("revocation_endpoint"),
                })
            })
            .await
    }

    /// Where to send the browser to sign in (code flow, PKCE S256).
    pub async fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        nonce: &str,
    ) -> Result<String, OidcError> {
        let endpoints = self.endpoints().await?;
        let mut url = url::Url::parse(&endpoints.authorization).map_err(|e| OidcError::Unreachable(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email offline_access")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    pub async fn exchange(&self, code: &str, code_verifier: &str, redirect_uri: &str) -> Result<TokenSet, OidcError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ];
        self.token_request(&form).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, OidcError> {
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Best effort: a failure is logged, since the session is gone either way.
    pub async fn revoke(&self, refresh_token: &str) {
        let Ok(endpoints) = self.endpoints().await else { return };
        let Some(revocation) = &endpoints.revocation else { return };
        let form = [("token", refresh_token), ("token_type_hint", "refresh_token")];
        if let Err(error) = self.authenticated(self.http.post(revocation), &form).send().await {
            tracing::warn!(%error, "could not revoke the session's refresh token");
        }
    }

    fn authenticated(&self, request: reqwest::RequestBuilder, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        match &self.secret {
            Some(secret) => request.basic_auth(&self.client_id, Some(secret.expose_secret())).form(&fields),
            None => {
                fields.push(("client_id", &self.client_id));
                request.form(&fields)
            }
        }
    }

    /// A token endpoint request for any grant, with this client's authentication.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenSet, OidcError> {
        let endpoints = self.endpoints().await?;
        let response = crate::outbound::send(self.authenticated(self.http.post(&endpoints.token), form))
            .await
            .map_err(|e| OidcError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or_default();
            let error = body.get("error").and_then(Value::as_str).unwrap_or("no error code").to_owned();
            return Err(OidcError::Refused(format!("status {status}, {error}")));
        }
        response.json().await.map_err(|e| OidcError::Refused(e.to_string()))
    }
}
