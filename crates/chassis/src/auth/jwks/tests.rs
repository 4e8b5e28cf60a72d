use super::*;
use serde_json::json;

/// What a token's header may say for the key `kid`, among the algorithms a header can name.
fn verifies(set: &KeySet, kid: &str) -> Vec<Algorithm> {
    let Some(published) = set.get(kid) else { return Vec::new() };
    [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA, Algorithm::HS256, Algorithm::RS384]
        .into_iter()
        .filter(|alg| published.verifying_key(*alg).is_ok())
        .collect()
}

/// A base64url modulus of exactly `bits` bits (only its size matters to parsing).
fn modulus(bits: usize) -> String {
    let mut n = vec![0xA5; bits.div_ceil(8)];
    n[0] = 0xFF >> (n.len() * 8 - bits);
    B64.encode(n)
}

/// The start of a certificate chain, as Entra ID, Auth0 and Keycloak put beside `n` and `e`.
const X5C: &str = "MIIC/TCCAeWgAwIBAgIIUjYLyTVQ5c0wDQYJKoZIhvcNAQELBQAwLTErMCkGA1UEAxMiYWNjb3VudHMu";
const RS: &[Algorithm] = &[Algorithm::RS256, Algorithm::PS256];

#[test]
fn entra_id_keys_have_no_alg_and_verify_either_rsa_padding() {
    let issuer = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0";
    let key = |kid: &str| {
        json!({"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid, "n": modulus(2048), "e": "AQAB",
               "x5c": [X5C], "cloud_instance_name": "microsoftonline.com", "issuer": issuer})
    };
    let set = KeySet::parse(&json!({"keys": [key("JYhAcTPMZ_LX6DBlOWQ7Hn0NeXE"), key("3PaK4EfyBNQu3CtjYsa3YmhQ5E0")]}))
        .unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(verifies(&set, "JYhAcTPMZ_LX6DBlOWQ7Hn0NeXE"), RS);
    assert_eq!(verifies(&set, "3PaK4EfyBNQu3CtjYsa3YmhQ5E0"), RS);
}

#[test]
fn google_keys_name_rs256_and_verify_only_that() {
    let key =
        |kid: &str| json!({"e": "AQAB", "kty": "RSA", "n": modulus(2048), "use": "sig", "kid": kid, "alg": "RS256"});
    let set = KeySet::parse(&json!({"keys": [
        key("a50f6e70ef4b548a5fd9142eecd1fb8f54dce9ee"), key("c7e04465649ffa606557650c7e65f0a87ae00fe8"),
    ]}))
    .unwrap();
    assert_eq!(verifies(&set, "a50f6e70ef4b548a5fd9142eecd1fb8f54dce9ee"), [Algorithm::RS256]);
    assert_eq!(verifies(&set, "c7e04465649ffa606557650c7e65f0a87ae00fe8"), [Algorithm::RS256]);
}

#[test]
fn auth0_keys_carry_a_certificate_chain_beside_n_and_e() {
    let key = |kid: &str, alg: &str| {
        json!({"kty": "RSA", "use": "sig", "n": modulus(2048), "e": "AQAB", "kid": kid,
               "x5t": "bX7QdeyGXcyEKa3wXm4x_7ZDEPg", "x5c": [X5C], "alg": alg})
    };
    let set = KeySet::parse(&json!({"keys": [key("NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg", "RS256"),
                                            key("pss-tenant-key", "PS256")]}))
    .unwrap();
    assert_eq!(verifies(&set, "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg"), [Algorithm::RS256]);
    assert_eq!(verifies(&set, "pss-tenant-key"), [Algorithm::PS256]);
}

#[test]
fn keycloak_encryption_keys_are_not_signature_keys() {
    let rsa = |kid: &str, alg: &str, use_: &str| {
        json!({"kid": kid, "kty": "RSA", "alg": alg, "use": use_, "n": modulus(4096), "e": "AQAB", "x5c": [X5C],
               "x5t": "n5pfFyQ5DdKZUMAk4XTmEJmBG-o", "x5t#S256": "MEgHPa4p5WQ1DQzRiXb2Fq-lh3hAkvqTPl1aRWBNo3M"})
    };
    let es = crate::auth::SigningKey::generate_es256().unwrap();
    let set = KeySet::parse(&json!({"keys": [
        rsa("enc-5Lxv", "RSA-OAEP", "enc"), rsa("sig-Rx9k", "RS256", "sig"), rsa("sig-Ps2q", "PS256", "sig"),
        es.public_jwk(),
    ]}))
    .unwrap();
    assert!(set.get("enc-5Lxv").is_none());
    assert_eq!(verifies(&set, "sig-Rx9k"), [Algorithm::RS256]);
    assert_eq!(verifies(&set, "sig-Ps2q"), [Algorithm::PS256]);
    assert_eq!(verifies(&set, es.kid()), [Algorithm::ES256]);
}

#[test]
fn a_keys_type_bounds_what_a_header_may_choose() {
    let es = crate::auth::SigningKey::generate_es256().unwrap();
    let ed = crate::auth::SigningKey::generate_eddsa().unwrap();
    let unnamed = |key: &crate::auth::SigningKey| {
        let mut jwk = key.public_jwk().clone();
        jwk.as_object_mut().unwrap().remove("alg");
        jwk
    };
    // One kid for an RSA and an EC key: the header's family picks, and nothing crosses over.
    let mut shared = unnamed(&es);
    shared["kid"] = json!("shared");
    let set = KeySet::parse(&json!({"keys": [
        unnamed(&es), unnamed(&ed), shared,
        {"kty": "RSA", "kid": "shared", "n": modulus(2048), "e": "AQAB"},
    ]}))
    .unwrap();
    assert_eq!(verifies(&set, es.kid()), [Algorithm::ES256]);
    assert_eq!(verifies(&set, ed.kid()), [Algorithm::EdDSA]);
    assert_eq!(verifies(&set, "shared"), [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256]);
    let published = set.get(es.kid()).unwrap();
    for alg in [Algorithm::HS256, Algorithm::RS256, Algorithm::EdDSA] {
        assert_eq!(published.verifying_key(alg).err(), Some(Rejection::WrongAlgorithm), "{alg:?}");
    }
}

#[test]
fn rsa_keys_outside_2048_to_8192_bits_or_with_a_bad_exponent_are_refused_by_name() {
    let refusal = |n: &str, e: &str| {
        let set = KeySet::parse(&json!({"keys": [{"kty": "RSA", "use": "sig", "kid": "k", "n": n, "e": e}]})).unwrap();
        match set.get("k").unwrap().verifying_key(Algorithm::RS256) {
            Ok(_) => None,
            Err(Rejection::UnacceptableKey(why)) => Some(why),
            Err(other) => panic!("{other:?}"),
        }
    };
    assert_eq!(refusal(&modulus(2048), "AQAB"), None);
    assert_eq!(refusal(&modulus(8192), "Aw"), None);
    // Leading zero bytes do not make a key larger, nor a valid key invalid.
    let padded = B64.encode([&[0u8, 0][..], &B64.decode(modulus(2048)).unwrap()].concat());
    assert_eq!(refusal(&padded, "AAEAAQ"), None);
    let small = B64.encode([&[0u8; 2][..], &B64.decode(modulus(1024)).unwrap()].concat());
    assert_eq!(refusal(&small, "AQAB").unwrap(), "an RSA modulus of 1024 bits; 2048 to 8192 are accepted");
    for n in [modulus(2047), modulus(8193), modulus(1 << 20), String::new(), "AAAA".into()] {
        assert!(refusal(&n, "AQAB").unwrap().contains("bits"), "{} characters", n.len());
    }
    for e in ["AQ", "Ag", "AQAA", "", "AAAA", "AQAAAAE"] {
        assert!(refusal(&modulus(2048), e).unwrap().contains("exponent"), "e = {e}");
    }
    assert_eq!(refusal("n is not base64!", "AQAB").unwrap(), "`n` is not base64url");
    assert_eq!(refusal(&modulus(2048), "+/==").unwrap(), "`e` is not base64url");
    let set = KeySet::parse(&json!({"keys": [{"kty": "RSA", "kid": "k", "n": 5}]})).unwrap();
    assert_eq!(
        set.get("k").unwrap().verifying_key(Algorithm::PS256).err(),
        Some(Rejection::UnacceptableKey("`n` is missing".into()))
    );
}

#[test]
fn what_is_not_a_verification_key_of_a_known_type_is_skipped() {
    let es = crate::auth::SigningKey::generate_es256().unwrap();
    let with = |kid: &str, member: &str, value: Value| {
        let mut jwk = es.public_jwk().clone();
        jwk["kid"] = json!(kid);
        jwk[member] = value;
        jwk
    };
    let set = KeySet::parse(&json!({"keys": [
        es.public_jwk(),
        with("enc", "use", json!("enc")),
        with("hmac-label", "alg", json!("HS256")),
        with("rsa-label", "alg", json!("RS256")),
        with("p384", "crv", json!("P-384")),
        {"kty": "RSA", "kid": "rs512", "alg": "RS512", "n": modulus(2048), "e": "AQAB"},
        {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP-256", "n": modulus(2048), "e": "AQAB"},
        {"kty": "RSA", "n": modulus(2048), "e": "AQAB"},
        {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": "AAAA"},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kid": "no-type"}, 42, "text", null,
    ]}))
    .unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(verifies(&set, es.kid()), [Algorithm::ES256]);
    assert!(KeySet::parse(&json!({"nokeys": []})).is_err());
    assert!(KeySet::parse(&json!({"keys": {}})).is_err());
}
