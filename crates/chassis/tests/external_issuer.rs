//! `TokenVerifier` against an issuer that signs with RSA through a stock library (Authlib on
//! Python's `cryptography`), publishing discovery and JWKS documents in the shapes of Entra ID,
//! Google, Auth0 and Keycloak (`tests/issuer/rsa_issuer.py`). Needs python3 with Authlib
//! (`pip install authlib==1.6.5`; `scripts/test` installs it): without them these tests fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::mem::discriminant;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use flotilla_chassis::auth::{AuthSettings, Caller, Rejection, TokenVerifier};
use serde::Deserialize;

#[derive(Deserialize)]
struct Started {
    port: u16,
    /// Each provider's issuer URL, by the name `/mint?provider=` takes.
    issuers: HashMap<String, String>,
}

struct Issuer {
    base: String,
    issuers: HashMap<String, String>,
    /// Kept, with its standard input open, for as long as this process lives.
    _process: Child,
}

/// The issuer, started once for all the tests here because its RSA keys take Python a while to
/// make. It exits when its standard input closes, which is when this process ends.
fn issuer() -> &'static Issuer {
    static ISSUER: OnceLock<Issuer> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/issuer/rsa_issuer.py");
        let mut process = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is required by this test");
        let mut line = String::new();
        BufReader::new(process.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let mut stderr = process.stderr.take().unwrap();
        let Ok(started) = serde_json::from_str::<Started>(&line) else {
            let mut complaint = String::new();
            stderr.read_to_string(&mut complaint).unwrap();
            panic!(
                "the RSA issuer did not start (it needs python3 with Authlib: pip install authlib==1.6.5): {complaint}"
            );
        };
        // Whatever it says later belongs in this test's output.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::stderr()));
        Issuer { base: format!("http://127.0.0.1:{}", started.port), issuers: started.issuers, _process: process }
    })
}

/// The providers the issuer imitates, with where each puts roles (`auth.roles_claim`).
const PROVIDERS: [(&str, &str); 4] =
    [("entra", "roles"), ("google", "roles"), ("auth0", "roles"), ("keycloak", "realm_access.roles")];

/// A verifier of `provider`'s tokens with audience `flotilla`, set up as docs/auth.md says.
fn verifier(provider: &str) -> TokenVerifier {
    let roles_claim = PROVIDERS.iter().find(|(name, _)| *name == provider).map_or("roles", |(_, claim)| claim);
    let settings = AuthSettings {
        issuer: Some(issuer().issuers[provider].clone()),
        audience: "flotilla".into(),
        leeway_s: 10,
        jwks_max_age_s: 300,
        jwks_min_refresh_interval_ms: 1,
        http_timeout_ms: 5_000,
        roles_claim: roles_claim.into(),
    };
    TokenVerifier::new("external-issuer-test", settings).unwrap()
}

/// A token from the issuer's `/mint` (see the script for what the parameters do).
async fn mint(query: &[(&str, &str)]) -> String {
    let http = flotilla_chassis::outbound::client(Duration::from_secs(5)).unwrap();
    let response = http.get(format!("{}/mint", issuer().base)).query(query).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "mint {query:?}: {status} {text}");
    text
}

async fn verify(verifier: &TokenVerifier, query: &[(&str, &str)]) -> Result<Caller, Rejection> {
    verifier.verify(&mint(query).await).await
}

#[tokio::test]
async fn rs256_and_ps256_tokens_of_each_providers_shape_verify() {
    // Entra ID's keys name no `alg`, so either padding verifies with them; Keycloak has a key for
    // each. Auth0's issuer ends in a slash, as Auth0 writes it.
    let cases = [
        ("entra", &["RS256", "PS256"][..], true),
        ("google", &["RS256"], false),
        ("auth0", &["RS256"], true),
        ("keycloak", &["RS256", "PS256"], true),
    ];
    for (provider, algorithms, admin) in cases {
        let verifier = verifier(provider);
        for alg in algorithms {
            let caller = verify(&verifier, &[("provider", provider), ("alg", alg)])
                .await
                .unwrap_or_else(|rejection| panic!("{provider} {alg}: {rejection}"));
            assert_eq!(caller.subject, "user-1");
            assert_eq!(caller.has_role("admin"), admin, "{provider}");
        }
    }
    // Google publishes the next key before it signs with it.
    let google = verifier("google");
    verify(&google, &[("provider", "google"), ("kid", "google-next")]).await.unwrap();
    verify(&google, &[("provider", "google"), ("kid", "google-current")]).await.unwrap();
}

#[tokio::test]
async fn a_key_that_names_its_algorithm_verifies_no_other_and_encryption_keys_none() {
    let google = verifier("google");
    let keycloak = verifier("keycloak");
    let cases = [
        (&google, [("provider", "google"), ("alg", "PS256"), ("kid", "google-current")], Rejection::WrongAlgorithm),
        (&keycloak, [("provider", "keycloak"), ("alg", "PS256"), ("kid", "keycloak-rs256")], Rejection::WrongAlgorithm),
        (&keycloak, [("provider", "keycloak"), ("alg", "RS256"), ("kid", "keycloak-ps256")], Rejection::WrongAlgorithm),
        (&keycloak, [("provider", "keycloak"), ("alg", "RS256"), ("kid", "keycloak-enc")], Rejection::UnknownKey),
    ];
    for (verifier, query, expected) in cases {
        assert_eq!(verify(verifier, &query).await.unwrap_err(), expected, "{query:?}");
    }
}

#[tokio::test]
async fn rsa_confusion_forgeries_and_bad_claims_fail_closed() {
    let malformed = Rejection::Malformed(String::new());
    let matrix = [
        (("forge", "foreign"), Rejection::BadSignature),
        (("forge", "hs256-pem"), Rejection::WrongAlgorithm),
        (("forge", "hs256-n"), Rejection::WrongAlgorithm),
        (("forge", "none"), malformed),
        (("forge", "pss-as-rs256"), Rejection::BadSignature),
        (("exp_in", "-120"), Rejection::Expired),
        (("aud", "another-api"), Rejection::WrongAudience),
        (("iss", "http://127.0.0.1:9/another-issuer"), Rejection::WrongIssuer),
    ];
    for (provider, _) in PROVIDERS {
        let verifier = verifier(provider);
        for (twist, expected) in &matrix {
            let got = verify(&verifier, &[("provider", provider), ("alg", "RS256"), *twist]).await.unwrap_err();
            assert_eq!(discriminant(&got), discriminant(expected), "{provider} {twist:?}: {got}");
        }
    }
}

#[tokio::test]
async fn a_published_rsa_key_under_2048_bits_is_refused() {
    let verifier = verifier("weak");
    let rejection = verify(&verifier, &[("provider", "weak")]).await.unwrap_err();
    assert_eq!(rejection, Rejection::UnacceptableKey("an RSA modulus of 1024 bits; 2048 to 8192 are accepted".into()));
}
