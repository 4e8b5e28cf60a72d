//! jsonwebtoken's signatures on ring, the tree's one crypto library (ADR 0007).
//!
//! Flotilla signs with ES256 and EdDSA only. It verifies those and, for the providers that sign
//! with RSA (Entra ID, Google, Auth0, Keycloak), RS256 and PS256 through ring's verification of
//! 2048- to 8192-bit RSA keys. Verifying uses the public key only: there is no private-key
//! operation whose timing could leak it, which is what the `rsa` crate's advisory
//! (RUSTSEC-2023-0071) is about, and that crate stays out of the tree. HMAC is neither signed nor
//! verified here, so a public key can never serve as a shared secret.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, KeyPair};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        ec_pub_components_from_private_key,
        ed_pub_components_from_private_key,
        compute_digest,
    },
};

/// Makes ring jsonwebtoken's provider for this process. Idempotent; every path into
/// jsonwebtoken in this crate calls it first, because the crate panics without a provider.
pub(crate) fn install() {
    if let Err(other) = PROVIDER.install_default()
        && !std::ptr::eq(other, &PROVIDER)
    {
        tracing::error!("another jsonwebtoken crypto provider is installed; tokens use it instead of ring");
    }
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match (algorithm, key.family()) {
        (Algorithm::ES256, AlgorithmFamily::Ec) => {
            let pair = ring_sig::EcdsaKeyPair::from_pkcs8(
                &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                key.as_bytes(),
                &SystemRandom::new(),
            )
            .map_err(|_| Error::from(ErrorKind::InvalidEcdsaKey))?;
            Ok(Box::new(Es256Signer(pair)))
        }
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => {
            let pair = ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.as_bytes())
                .map_err(|_| Error::from(ErrorKind::InvalidEddsaKey))?;
            Ok(Box::new(EdDsaSigner(pair)))
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    use ring_sig::{ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256};
    let public = match (algorithm, key.family(), key.kind()) {
        (Algorithm::ES256, AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point)) => {
            VerifyingKey::Raw { verification: &ECDSA_P256_SHA256_FIXED, key: point.clone() }
        }
        (Algorithm::EdDSA, AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(raw)) => {
            VerifyingKey::Raw { verification: &ED25519, key: raw.clone() }
        }
        (Algorithm::RS256, AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            VerifyingKey::Rsa { parameters: &RSA_PKCS1_2048_8192_SHA256, n: n.clone(), e: e.clone() }
        }
        (Algorithm::PS256, AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            VerifyingKey::Rsa { parameters: &RSA_PSS_2048_8192_SHA256, n: n.clone(), e: e.clone() }
        }
        (Algorithm::ES256 | Algorithm::EdDSA | Algorithm::RS256 | Algorithm::PS256, ..) => {
            return Err(ErrorKind::InvalidKeyFormat.into());
        }
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(RingVerifier { algorithm: *algorithm, public }))
}

struct Es256Signer(ring_sig::EcdsaKeyPair);

impl Signer<Vec<u8>> for Es256Signer {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let signed = self.0.sign(&SystemRandom::new(), message).map_err(|_| signature::Error::new())?;
        Ok(signed.as_ref().to_vec())
    }
}

impl JwtSigner for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

struct EdDsaSigner(ring_sig::Ed25519KeyPair);

impl Signer<Vec<u8>> for EdDsaSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

impl JwtSigner for EdDsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

/// A public key as jsonwebtoken keeps JWK components, with the ring algorithm it verifies.
enum VerifyingKey {
    /// The uncompressed P-256 point or the raw Ed25519 key.
    Raw { verification: &'static dyn ring_sig::VerificationAlgorithm, key: Vec<u8> },
    /// An RSA modulus and exponent, big-endian.
    Rsa { parameters: &'static ring_sig::RsaParameters, n: Vec<u8>, e: Vec<u8> },
}

struct RingVerifier {
    algorithm: Algorithm,
    public: VerifyingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        match &self.public {
            VerifyingKey::Raw { verification, key } => {
                ring_sig::UnparsedPublicKey::new(*verification, key).verify(message, signature)
            }
            VerifyingKey::Rsa { parameters, n, e } => {
                ring_sig::RsaPublicKeyComponents { n, e }.verify(parameters, message, signature)
            }
        }
        .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn ec_pub_components_from_private_key(pkcs8: &[u8], algorithm: Algorithm) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    if algorithm != Algorithm::ES256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair =
        ring_sig::EcdsaKeyPair::from_pkcs8(&ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &SystemRandom::new())
            .map_err(|_| Error::from(ErrorKind::InvalidEcdsaKey))?;
    match pair.public_key().as_ref() {
        [4, point @ ..] if point.len() == 64 => Ok((EllipticCurve::P256, point[..32].to_vec(), point[32..].to_vec())),
        _ => Err(ErrorKind::InvalidEcdsaKey.into()),
    }
}

fn ed_pub_components_from_private_key(pkcs8: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| Error::from(ErrorKind::InvalidEddsaKey))?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    use super::*;

    /// A 2048-bit RSA key, and tokens signed with it by a stock library (Authlib on Python's
    /// `cryptography`), so that ring is checked against another implementation's signatures.
    const N: &str = "zoYpOPSE2tyQC_-9iU0Uni9wJcN9QbRZYoCZ3K3uKRhZnhVO6c8Wm_j1ZwwZPVKKJbKzZJKGfIgdqKaK4AkV574NJ3zZYbiclcIm7LGlQVYT2GVyj5Wm2_NCT9Pm1XFfolbwA_UeYNz_H5XvwlY4kvRqKI-kb_nLxMSF6jQS-RFjsro6cqJJVilum4vZYiJ94OCek_0SNZMfKl7KwQ38xwF8z4qjz0zHvQ8Gj1YHzSFrgyPRWXAMo_7Loh7CPqZMgttn98sl_llon_UrZqCMyhK_q6I8MGUapjONvbLLAv4tux6mTEE160kv2O2Km_680_dDzwf9clrKwh2EKm5cCw";
    const RS256_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImthdCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJrYXQifQ.dWb0ycaXrNZp0ylFBShbtVFo7HIZwGS1Vl1aggRn9H_365CEJUgK_b8dhH4_iowu8uhPuK2hTMZRtl1KaL102l5EJc6hQbr-xbv_gas067o5PA0Nf9bP1YCBuQxTx-0NYR9-SI5SyTtEII3b9W7NZ7zS4Xz1xWPRfRs8nErUabHpGxCNIeobXJ0l_VR2is1le2RmynhwarA-u9ydYurdrMCZSb-5Xed-V5RDlCtVNrYUOfGPiYRG93r3KBHkLggOjqBpL7wBIg1tqU7JIzbo9M1pPZDp4IXaJ2FdcvEJPSjTVUXf-QBXegV15bUm2dmcdRld5BcG5n9PeTZDpqmGuQ";
    const PS256_TOKEN: &str = "eyJhbGciOiJQUzI1NiIsImtpZCI6ImthdCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJrYXQifQ.awa7g442tTKRNqiRWh-tz22agYp6lSK-AQPXYkJSsEEeD8ckxtdWmsqG7kpvd6ky6yjNgO34UK8WD2dndv9YvlKL5KtEyJotvJkqdAIwk9fhp3IeWQhPcfFFqPEfgw7hlQCuikfOYdLZT_SRvevGSWu6VhSWA2YS0wvSLcg1UShDoaNRt8U3-yjpiCIxkvRmG-m6lAjAHDq-WJMYvwcP9uT-XSRbfpPb_qHMhTjbpK3oM93AKJu8fe9IcS9pGSgeyhrV9283WdGAlXMvaUR7PE7aMMJ7ArmtjpYnJda0bphGoZyNlAtoC8KTJ-BXymG80tmga2VOnqBvTIeLOHapiQ";

    fn check(token: &str, key: &DecodingKey, algorithm: Algorithm) -> Result<bool> {
        install();
        let (input, signature) = token.rsplit_once('.').unwrap();
        jsonwebtoken::crypto::verify(signature, input.as_bytes(), key, algorithm)
    }

    #[test]
    fn ring_verifies_rs256_and_ps256_and_never_one_padding_for_the_other() {
        let key = DecodingKey::from_rsa_components(N, "AQAB").unwrap();
        assert!(check(RS256_TOKEN, &key, Algorithm::RS256).unwrap());
        assert!(check(PS256_TOKEN, &key, Algorithm::PS256).unwrap());
        assert!(!check(RS256_TOKEN, &key, Algorithm::PS256).unwrap());
        assert!(!check(PS256_TOKEN, &key, Algorithm::RS256).unwrap());
        let tampered = RS256_TOKEN.replacen("eyJzdWIiOiJrYXQifQ", "eyJzdWIiOiJrYXUifQ", 1);
        assert!(!check(&tampered, &key, Algorithm::RS256).unwrap());
    }

    #[test]
    fn an_rsa_key_serves_no_other_algorithm_and_hostile_ones_fail_without_panicking() {
        let key = DecodingKey::from_rsa_components(N, "AQAB").unwrap();
        for algorithm in [Algorithm::HS256, Algorithm::RS384, Algorithm::PS512] {
            assert!(check(RS256_TOKEN, &key, algorithm).is_err(), "{algorithm:?}");
        }
        assert!(check(RS256_TOKEN, &key, Algorithm::ES256).is_err());
        assert!(check(RS256_TOKEN, &DecodingKey::from_secret(N.as_bytes()), Algorithm::RS256).is_err());
        let modulus = B64.decode(N).unwrap();
        let hostile: [(&[u8], &[u8]); 5] = [
            (&modulus, &[1]),
            (&modulus, &[]),
            (&modulus[..128], &[1, 0, 1]),
            (&[0xFF; 4096], &[1, 0, 1]),
            (&[], &[1, 0, 1]),
        ];
        for (n, e) in hostile {
            let key = DecodingKey::from_rsa_raw_components(n, e);
            assert!(!check(RS256_TOKEN, &key, Algorithm::RS256).unwrap(), "n of {} bytes, e {e:?}", n.len());
        }
    }
}
