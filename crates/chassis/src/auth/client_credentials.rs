//! Access tokens for a service's own calls to other services (the client credentials grant).
//!
//! A token is reused until shortly before it expires; one refresh runs at a time.

use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::{AuthSettings, OidcClient, OidcError};

/// A token is renewed when less than this share of its lifetime is left.
const RENEW_AT_REMAINING: f64 = 0.2;

struct Held {
    token: SecretString,
    renew_at: Instant,
}

/// A service account's tokens from the configured issuer.
#[derive(Debug)]
pub struct ServiceTokens {
    client: OidcClient,
    scope: Option<String>,
    held: tokio::sync::Mutex<Option<Held>>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("renew_at", &self.renew_at).finish_non_exhaustive()
    }
}

impl ServiceTokens {
    pub fn new(
        settings: &AuthSettings,
        client_id: &str,
        secret: SecretString,
        scope: Option<&str>,
    ) -> Result<Self, super::SetupError> {
        Ok(Self {
            client: OidcClient::new(settings, client_id, Some(secret))?,
            scope: scope.map(str::to_owned),
            held: tokio::sync::Mutex::default(),
        })
    }

    /// A current access token, fetched or renewed when needed.
    pub async fn token(&self) -> Result<SecretString, OidcError> {
        let mut held = self.held.lock().await;
        if let Some(current) = held.as_ref()
            && Instant::now() < current.renew_at
        {
            return Ok(current.token.clone());
        }
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let issued = self.client.token_request(&form).await?;
        let lifetime = Duration::from_secs(issued.expires_in.and_then(|s| u64::try_from(s).ok()).unwrap_or(60));
        let token = SecretString::from(issued.access_token);
        *held =
            Some(Held { token: token.clone(), renew_at: Instant::now() + lifetime.mul_f64(1.0 - RENEW_AT_REMAINING) });
        Ok(token)
    }
}
