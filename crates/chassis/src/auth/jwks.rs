//! An issuer's published keys, as a verifier holds them: by `kid`, each key with the algorithms
//! it may verify.
//!
//! A key that names its `alg` verifies that algorithm only. A key without one (Entra ID publishes
//! none) verifies what its key type allows: RS256 or PS256 for RSA, ES256 for P-256, EdDSA for
//! Ed25519. A token's header therefore picks at most between the two RSA paddings of an RSA key,
//! never a family: HMAC and `none` are never among them, so a public key cannot be turned into a
//! shared secret (algorithm confusion).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::Rejection;

/// RSA moduli accepted, in bits. Below 2048 a key is weaker than 112 bits of security, which NIST
/// no longer allows for signatures (SP 800-131A); ring verifies up to 8192, and an upper bound
/// keeps a hostile JWKS from costing much.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The key types a token can be verified with, and so the families a header's `alg` is read in.
#[derive(Clone, Copy)]
enum KeyType {
    Rsa,
    P256,
    Ed25519,
}

impl KeyType {
    /// `kty` (and `crv`) as a JWK states them; `None` for types this service does not verify.
    fn of(jwk: &Value) -> Option<Self> {
        match (text(jwk, "kty")?, text(jwk, "crv")) {
            ("RSA", _) => Some(Self::Rsa),
            ("EC", Some("P-256")) => Some(Self::P256),
            ("OKP", Some("Ed25519")) => Some(Self::Ed25519),
            _ => None,
        }
    }

    fn algorithms(self) -> &'static [Algorithm] {
        match self {
            Self::Rsa => &[Algorithm::RS256, Algorithm::PS256],
            Self::P256 => &[Algorithm::ES256],
            Self::Ed25519 => &[Algorithm::EdDSA],
        }
    }

    fn decoding_key(self, jwk: &Value) -> Result<DecodingKey, String> {
        let component = |name: &str| text(jwk, name).ok_or_else(|| format!("`{name}` is missing"));
        match self {
            Self::Rsa => rsa_key(component("n")?, component("e")?),
            Self::P256 => DecodingKey::from_ec_components(component("x")?, component("y")?)
                .map_err(|_| "`x` or `y` is not base64url".to_owned()),
            Self::Ed25519 => {
                DecodingKey::from_ed_components(component("x")?).map_err(|_| "`x` is not base64url".to_owned())
            }
        }
    }
}

/// One published verification key.
struct PublicKey {
    key_type: KeyType,
    /// The JWK's `alg`, when it names one.
    named: Option<Algorithm>,
    /// The key, or why it is refused although it is of a type verified here: an RSA key too small
    /// is answered as such rather than as unknown, so that the operator learns what to change.
    key: Result<DecodingKey, String>,
}

impl PublicKey {
    /// `None` when the JWK is not for verifying tokens here at all.
    fn from_jwk(jwk: &Value) -> Option<Self> {
        if text(jwk, "use").is_some_and(|u| u != "sig") {
            return None;
        }
        let key_type = KeyType::of(jwk)?;
        let named = match text(jwk, "alg") {
            None => None,
            // An `alg` this service does not verify (RS512, RSA-OAEP, HS256...) or one that contradicts
            // the key type makes the key someone else's, never a key for another algorithm.
            Some(name) => Some(name.parse().ok().filter(|alg| key_type.algorithms().contains(alg))?),
        };
        Some(Self { key_type, named, key: key_type.decoding_key(jwk) })
    }

    fn verifies(&self, algorithm: Algorithm) -> bool {
        match self.named {
            Some(named) => named == algorithm,
            None => self.key_type.algorithms().contains(&algorithm),
        }
    }
}

/// The keys published under one `kid`: as a rule one, but nothing stops an issuer from reusing a
/// `kid` across key types, so the header's `alg` picks among them by type.
#[derive(Clone)]
pub(crate) struct Published(Arc<[PublicKey]>);

impl Published {
    /// The key to verify a token whose header says `algorithm` with, if one of these may.
    pub fn verifying_key(&self, algorithm: Algorithm) -> Result<&DecodingKey, Rejection> {
        let key = self.0.iter().find(|key| key.verifies(algorithm)).ok_or(Rejection::WrongAlgorithm)?;
        key.key.as_ref().map_err(|why| Rejection::UnacceptableKey(why.clone()))
    }
}

/// The verification keys of a JWKS document. Keys of other types (RSA encryption keys, P-384,
/// symmetric keys) are skipped rather than failing the whole set, as providers publish several.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Published>,
}

impl KeySet {
    pub fn parse(document: &Value) -> Result<Self, String> {
        let entries = document.get("keys").and_then(Value::as_array).ok_or("the JWKS has no `keys` array")?;
        let mut by_kid: HashMap<String, Vec<PublicKey>> = HashMap::new();
        for jwk in entries {
            // A token names its key; a key without a `kid` can never be chosen.
            let (Some(kid), Some(key)) = (text(jwk, "kid"), PublicKey::from_jwk(jwk)) else {
                continue;
            };
            if let Err(why) = &key.key {
                tracing::warn!(kid, reason = %why, "the issuer publishes a signing key this service refuses");
            }
            by_kid.entry(kid.to_owned()).or_default().push(key);
        }
        let keys = by_kid.into_iter().map(|(kid, keys)| (kid, Published(keys.into()))).collect();
        Ok(Self { keys })
    }

    pub fn get(&self, kid: &str) -> Option<&Published> {
        self.keys.get(kid)
    }

    /// How many key ids it knows.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

fn text<'a>(jwk: &'a Value, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// The RSA key of base64url `n` and `e`, refused unless its modulus has 2048 to 8192 bits and its
/// exponent is one issuers use. ring checks both again when verifying; checking here too names
/// the fault, where ring's verdict would be an anonymous bad signature on every token.
fn rsa_key(n: &str, e: &str) -> Result<DecodingKey, String> {
    let decode = |name, value: &str| {
        let bytes = B64.decode(value).map_err(|_| format!("`{name}` is not base64url"))?;
        // Leading zero bytes (the sign octet some encoders keep) leave the integer as it is.
        Ok::<Vec<u8>, String>(bytes.into_iter().skip_while(|byte| *byte == 0).collect())
    };
    let (n, e) = (decode("n", n)?, decode("e", e)?);
    let bits = n.first().map_or(0, |top| (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize));
    if !RSA_BITS.contains(&bits) {
        return Err(format!("an RSA modulus of {bits} bits; {} to {} are accepted", RSA_BITS.start(), RSA_BITS.end()));
    }
    // What issuers use (65537, rarely 3) and ring accepts: odd, at least 3, at most 32 bits.
    let exponent = (e.len() <= 4).then(|| e.iter().fold(0u64, |value, byte| value << 8 | u64::from(*byte)));
    if !exponent.is_some_and(|e| e >= 3 && e % 2 == 1) {
        return Err("the RSA exponent is not an odd number from 3 to 2^32 - 1".into());
    }
    Ok(DecodingKey::from_rsa_raw_components(&n, &e))
}

#[cfg(test)]
mod tests;
