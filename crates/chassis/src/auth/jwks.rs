//! An issuer's published keys, as a verifier holds them: by `kid`, each with its one algorithm.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// A verification key and the only algorithm it may be used with.
#[derive(Clone)]
pub(crate) struct PublicKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The usable keys of a JWKS document. Keys for other uses or algorithms (an external provider's
/// RSA or encryption keys) are skipped rather than failing the whole set.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, PublicKey>,
}

impl KeySet {
    pub fn parse(document: &Value) -> Result<Self, String> {
        let entries = document.get("keys").and_then(Value::as_array).ok_or("the JWKS has no `keys` array")?;
        let keys =
            entries.iter().filter_map(|jwk| Some((jwk.get("kid")?.as_str()?.to_owned(), usable(jwk)?))).collect();
        Ok(Self { keys })
    }

    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

fn usable(jwk: &Value) -> Option<PublicKey> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (algorithm, key) = match (text("kty")?, text("crv")?) {
        ("EC", "P-256") => (Algorithm::ES256, DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?),
        ("OKP", "Ed25519") => (Algorithm::EdDSA, DecodingKey::from_ed_components(text("x")?).ok()?),
        _ => return None,
    };
    // A key that names an algorithm must name the one its curve implies.
    let named = text("alg").map(|alg| alg == if algorithm == Algorithm::ES256 { "ES256" } else { "EdDSA" });
    (named != Some(false)).then_some(PublicKey { algorithm, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_signing_keys_of_pinned_algorithms_and_skips_the_rest() {
        let es = crate::auth::SigningKey::generate_es256().unwrap();
        let ed = crate::auth::SigningKey::generate_eddsa().unwrap();
        let mut encryption = es.public_jwk().clone();
        encryption["use"] = json!("enc");
        encryption["kid"] = json!("enc");
        let mut mislabelled = es.public_jwk().clone();
        mislabelled["alg"] = json!("HS256");
        mislabelled["kid"] = json!("mislabelled");
        let set = KeySet::parse(&json!({"keys": [
            es.public_jwk(), ed.public_jwk(), encryption, mislabelled,
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        ]}))
        .unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.get(es.kid()).unwrap().algorithm, Algorithm::ES256);
        assert_eq!(set.get(ed.kid()).unwrap().algorithm, Algorithm::EdDSA);
        assert!(KeySet::parse(&json!({"nokeys": []})).is_err());
    }
}
