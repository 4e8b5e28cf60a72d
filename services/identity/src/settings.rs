//! `services.identity.*`: token lifetimes, key rotation, sign-in protection, the first admin and
//! the registered clients. Validated once at start-up; a mistake names its key.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

/// A registered client. Without a secret it is public (a browser or native app) and must rely
/// on PKCE alone; with one it authenticates at the token endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Compared exactly, character for character: no prefixes, no wildcards.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// The scopes the client may ask for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Roles a service account's tokens carry (client credentials only).
    #[serde(default)]
    pub roles: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access"].map(String::from).to_vec()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    pub email: String,
    /// A secret: from FLOTILLA_SERVICES__IDENTITY__ADMIN__PASSWORD or a mounted file, never a file
    /// in the repository. There is no default password.
    pub password: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySettings {
    pub access_token_ttl_s: u64,
    pub id_token_ttl_s: u64,
    pub refresh_token_ttl_s: u64,
    pub authorization_code_ttl_s: u64,
    /// A new signing key is made this often...
    pub key_rotation_s: u64,
    /// ...and published this long before it signs, so verifiers' caches have it in time.
    pub key_prepublish_s: u64,
    /// Consecutive failed sign-ins that lock an account, and for how long.
    pub lockout_after_failures: u32,
    pub lockout_s: u64,
    /// Sign-in and registration attempts per client address per minute.
    pub sign_in_per_minute: u32,
    /// Peers whose X-Forwarded-For is believed (the gateway); everyone else is their own address.
    pub trusted_proxies: Vec<IpAddr>,
    pub admin: Option<AdminSettings>,
    pub clients: BTreeMap<String, ClientSettings>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            access_token_ttl_s: 300,
            id_token_ttl_s: 300,
            refresh_token_ttl_s: 30 * 24 * 3600,
            authorization_code_ttl_s: 60,
            key_rotation_s: 7 * 24 * 3600,
            key_prepublish_s: 600,
            lockout_after_failures: 5,
            lockout_s: 900,
            sign_in_per_minute: 20,
            trusted_proxies: Vec::new(),
            admin: None,
            clients: BTreeMap::new(),
        }
    }
}

impl IdentitySettings {
    /// Where the system has a public URL (a gateway), the gateway is a registered client that
    /// signs browsers in at `<public_url>/auth/callback`, unless configured with redirect URIs of
    /// its own: wherever the system is reached, sign-in follows.
    pub fn with_gateway_callback(mut self, public_url: Option<&str>) -> Self {
        let Some(public_url) = public_url else { return self };
        let gateway = self.clients.entry("gateway".to_owned()).or_insert_with(|| ClientSettings {
            secret: None,
            redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: default_scopes(),
            roles: Vec::new(),
        });
        if gateway.redirect_uris.is_empty() {
            gateway.redirect_uris.push(format!("{}/auth/callback", public_url.trim_end_matches('/')));
        }
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("access_token_ttl_s", self.access_token_ttl_s),
            ("id_token_ttl_s", self.id_token_ttl_s),
            ("refresh_token_ttl_s", self.refresh_token_ttl_s),
            ("authorization_code_ttl_s", self.authorization_code_ttl_s),
            ("key_rotation_s", self.key_rotation_s),
            ("key_prepublish_s", self.key_prepublish_s),
            ("lockout_after_failures", u64::from(self.lockout_after_failures)),
            ("sign_in_per_minute", u64::from(self.sign_in_per_minute)),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!("services.identity.{key}: found 0, expected a positive number"));
        }
        if self.key_prepublish_s >= self.key_rotation_s {
            return Err("services.identity.key_prepublish_s: must be shorter than key_rotation_s".into());
        }
        if let Some(admin) = &self.admin {
            crate::domain::credentials::email(&admin.email)
                .map_err(|e| format!("services.identity.admin.email: {e}"))?;
        }
        for (id, client) in &self.clients {
            let key = format!("services.identity.clients.{id}");
            if client.grant_types.contains(&GrantType::ClientCredentials) && client.secret.is_none() {
                return Err(format!("{key}.secret: a client_credentials client needs a secret"));
            }
            if client.grant_types.contains(&GrantType::AuthorizationCode) && client.redirect_uris.is_empty() {
                return Err(format!("{key}.redirect_uris: an authorization_code client needs at least one"));
            }
            for uri in &client.redirect_uris {
                crate::domain::clients::check_redirect_uri(uri).map_err(|e| format!("{key}.redirect_uris: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_s)
    }
}
