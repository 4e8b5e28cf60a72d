//! An issuer's private signing key and its public JWK. The identity service signs with it; the
//! test kit uses the same type to stand up an issuer whose tokens it can shape at will.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, KeyPair};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key could not be generated")]
    Generate,
    #[error("the stored key is not a valid {0} PKCS#8 document")]
    Invalid(&'static str),
    #[error("{0} is not a signing algorithm Flotilla uses (ES256, EdDSA)")]
    UnsupportedAlgorithm(String),
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// A private key, named by its RFC 7638 thumbprint.
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    pkcs8: Vec<u8>,
    encoding: EncodingKey,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh ES256 (P-256) key: the algorithm every OpenID Connect client library verifies.
    pub fn generate_es256() -> Result<Self, KeyError> {
        let document =
            ring_sig::EcdsaKeyPair::generate_pkcs8(&ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8("ES256", document.as_ref())
    }

    /// A fresh Ed25519 key.
    pub fn generate_eddsa() -> Result<Self, KeyError> {
        let document =
            ring_sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8("EdDSA", document.as_ref())
    }

    /// A key read back from storage: its algorithm name and PKCS#8 document.
    pub fn from_pkcs8(algorithm: &str, pkcs8: &[u8]) -> Result<Self, KeyError> {
        super::crypto::install();
        let (algorithm, public) = match algorithm {
            "ES256" => {
                let pair = ring_sig::EcdsaKeyPair::from_pkcs8(
                    &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    &SystemRandom::new(),
                )
                .map_err(|_| KeyError::Invalid("ES256"))?;
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..).ok_or(KeyError::Invalid("ES256"))?.split_at(32);
                (Algorithm::ES256, json!({"crv": "P-256", "kty": "EC", "x": B64.encode(x), "y": B64.encode(y)}))
            }
            "EdDSA" => {
                let pair = ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                    .map_err(|_| KeyError::Invalid("EdDSA"))?;
                let x = B64.encode(pair.public_key().as_ref());
                (Algorithm::EdDSA, json!({"crv": "Ed25519", "kty": "OKP", "x": x}))
            }
            other => return Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
        };
        // serde_json keeps object keys sorted, which is the member order RFC 7638 asks for.
        let kid = B64.encode(Sha256::digest(public.to_string().as_bytes()));
        let mut jwk = public;
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(algorithm_name(algorithm));
        let encoding = match algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_der(pkcs8),
            _ => EncodingKey::from_ec_der(pkcs8),
        };
        Ok(Self { kid, algorithm, pkcs8: pkcs8.to_vec(), encoding, jwk })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> &'static str {
        algorithm_name(self.algorithm)
    }

    /// The private key as PKCS#8 DER, for the issuer's own storage.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half as a JWK with `kid`, `use` and `alg`, as published in a JWKS.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// A compact JWS of `claims` with this key's `kid`; `typ` is `JWT`, or `at+jwt` for access
    /// tokens (RFC 9068) so that one kind of token cannot pass for the other.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EdDSA => "EdDSA",
        _ => "ES256",
    }
}
