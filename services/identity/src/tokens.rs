//! The tokens the provider hands out: RFC 9068 access tokens, OpenID Connect ID tokens, and the
//! token endpoint's response.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use flotilla_chassis::auth::KeyError;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::keys::KeyRing;

/// Signs tokens as this provider.
#[derive(Debug, Clone)]
pub struct Minter {
    pub issuer: String,
    pub audience: String,
    pub keys: Arc<KeyRing>,
    pub access_ttl_s: i64,
    pub id_ttl_s: i64,
}

/// Who a token is about.
pub struct Subject<'a> {
    pub id: &'a str,
    pub roles: &'a [String],
}

impl Minter {
    pub fn access_token(&self, subject: &Subject<'_>, client_id: &str, scope: &str) -> Result<String, KeyError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({
            "iss": self.issuer, "sub": subject.id, "aud": self.audience, "client_id": client_id,
            "iat": now, "nbf": now, "exp": now + self.access_ttl_s,
            "jti": uuid::Uuid::now_v7().to_string(), "scope": scope, "roles": subject.roles,
        });
        self.keys.signer().sign("at+jwt", &claims)
    }

    /// The ID token of a sign-in, bound to the access token issued with it by `at_hash`.
    pub fn id_token(&self, id: IdTokenParts<'_>) -> Result<String, KeyError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let digest = Sha256::digest(id.access_token.as_bytes());
        let mut claims = json!({
            "iss": self.issuer, "sub": id.subject.id, "aud": id.client_id, "azp": id.client_id,
            "iat": now, "nbf": now, "exp": now + self.id_ttl_s, "auth_time": id.auth_time,
            "jti": uuid::Uuid::now_v7().to_string(), "roles": id.subject.roles,
            "at_hash": B64.encode(&digest[..16]),
        });
        if let Some(nonce) = id.nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(email) = id.email {
            claims["email"] = json!(email);
            claims["email_verified"] = json!(false);
        }
        self.keys.signer().sign("JWT", &claims)
    }
}

pub struct IdTokenParts<'a> {
    pub subject: Subject<'a>,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub email: Option<&'a str>,
    pub auth_time: i64,
    pub access_token: &'a str,
}

/// RFC 6749 §5.1.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
