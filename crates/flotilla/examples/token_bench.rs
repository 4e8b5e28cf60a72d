//! The cost of verifying an access token, per request, with the issuer's keys cached (the steady
//! state): `TokenVerifier::verify` (header parse, key lookup, ES256 signature, claim checks)
//! against the floor of one raw ring ECDSA P-256 verification of the same signature.
//!
//! `cargo run --release -p flotilla --example token_bench [iterations]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use flotilla_testkit::TestIssuer;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let issuer = TestIssuer::start().await;
    let mut settings = flotilla_chassis::Config::defaults().unwrap();
    for (key, value) in issuer.settings() {
        settings = settings.set(key, value).unwrap();
    }
    let verifier = flotilla_chassis::auth::TokenVerifier::new("bench", settings.settings.auth.clone()).unwrap();
    let token = issuer.token("bench-user", &["customer"]);
    verifier.verify(&token).await.unwrap();

    let started = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(verifier.verify(std::hint::black_box(&token)).await.unwrap());
    }
    let verify_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);

    // The floor: one signature verification by ring, on the same bytes, nothing else.
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = B64.decode(signature).unwrap();
    let jwk: Value = issuer.public_jwk().clone();
    let point: Vec<u8> =
        [vec![4u8], B64.decode(jwk["x"].as_str().unwrap()).unwrap(), B64.decode(jwk["y"].as_str().unwrap()).unwrap()]
            .concat();
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point);
    let started = Instant::now();
    for _ in 0..iterations {
        key.verify(std::hint::black_box(input.as_bytes()), std::hint::black_box(&signature)).unwrap();
    }
    let raw_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);

    println!("token verification, {iterations} iterations, keys cached:");
    println!("  TokenVerifier::verify   {verify_us:>8.1} µs per token");
    println!("  raw ring ES256 verify   {raw_us:>8.1} µs per signature (floor)");
    println!("  ratio                   {:>8.2}", verify_us / raw_us);
}
