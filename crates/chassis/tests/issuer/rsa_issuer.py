"""An OpenID Connect issuer that signs with RSA through a stock library (Authlib on Python's
`cryptography`), standing in for Entra ID, Google, Auth0 and Keycloak in tests/external_issuer.rs.

    python3 rsa_issuer.py

Binds 127.0.0.1 on a port the system picks and prints one JSON line on its standard output, the
port and each provider's issuer URL: `{"port": 41234, "issuers": {"entra": "http://...", ...}}`.
It exits when its standard input closes, so it never outlives the test process that started it.

Each provider lives under its own path with its issuer, discovery document, JWKS location and key
shapes (which members each key has, whether it names its `alg`) as the real one publishes them.
`weak` publishes a 1024-bit key, which a verifier must refuse.

    GET /mint?provider=<name>&alg=RS256|PS256[&kid=][&forge=][&aud=][&iss=][&exp_in=]

answers a token signed by that provider (by default with its first signing key for `alg`), or a
forgery: `foreign` (signed by another issuer's key under the same kid), `hs256-pem` and `hs256-n`
(HMAC keyed with the public key's PEM or modulus), `none` (unsigned), `pss-as-rs256` (a PS256
signature under a header that says RS256).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from authlib.jose import RSAKey, jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AUDIENCE = "flotilla"
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    """An RSA key pair with the self-signed certificate providers publish beside it as `x5c`."""

    def __init__(self, kid, alg=None, use="sig", bits=2048):
        self.kid, self.alg, self.use = kid, alg, use
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        self.signer = RSAKey.import_key(self.private)
        public = self.signer.as_dict(is_private=False)
        self.n, self.e = public["n"], public["e"]
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kid)])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.private, hashes.SHA256())
        )
        self.der = certificate.public_bytes(serialization.Encoding.DER)

    def x5c(self):
        return [base64.b64encode(self.der).decode()]

    def x5t(self):
        return b64url(hashlib.sha1(self.der).digest())

    def pem(self):
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def entra_jwk(provider, key):
    # No `alg`; `x5t` equal to the kid, a chain and the tenant's issuer.
    return {"kty": "RSA", "use": "sig", "kid": key.kid, "x5t": key.kid, "n": key.n, "e": key.e,
            "x5c": key.x5c(), "cloud_instance_name": "microsoftonline.com", "issuer": provider.issuer}


def google_jwk(provider, key):
    return {"e": key.e, "kty": "RSA", "n": key.n, "use": "sig", "kid": key.kid, "alg": key.alg}


def auth0_jwk(provider, key):
    return {"kty": "RSA", "use": "sig", "n": key.n, "e": key.e, "kid": key.kid, "x5t": key.x5t(),
            "x5c": key.x5c(), "alg": key.alg}


def keycloak_jwk(provider, key):
    return {"kid": key.kid, "kty": "RSA", "alg": key.alg, "use": key.use, "n": key.n, "e": key.e,
            "x5c": key.x5c(), "x5t": key.x5t(), "x5t#S256": b64url(hashlib.sha256(key.der).digest())}


class Provider:
    def __init__(self, issuer_path, jwks_path, keys, shape, claims):
        self.issuer_path, self.jwks_path, self.keys, self.shape, self.claims = (
            issuer_path, jwks_path, keys, shape, claims)
        self.issuer = None

    def discovery_path(self):
        return self.issuer_path.rstrip("/") + "/.well-known/openid-configuration"

    def discovery(self, base):
        return {
            "issuer": self.issuer,
            "jwks_uri": base + self.jwks_path,
            "authorization_endpoint": base + self.issuer_path.rstrip("/") + "/authorize",
            "token_endpoint": base + self.issuer_path.rstrip("/") + "/token",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg or "RS256" for k in self.keys if k.use == "sig"}),
        }

    def jwks(self):
        return {"keys": [self.shape(self, key) for key in self.keys]}

    def key(self, kid, alg):
        if kid:
            return next(key for key in self.keys if key.kid == kid)
        return next(key for key in self.keys if key.use == "sig" and key.alg in (None, alg))


PROVIDERS = {
    "entra": Provider(f"/{TENANT}/v2.0", f"/{TENANT}/discovery/v2.0/keys",
                      [Key("entra-1"), Key("entra-2")], entra_jwk,
                      {"tid": TENANT, "ver": "2.0", "roles": ["admin"], "scp": "orders.read"}),
    "google": Provider("/google", "/google/oauth2/v3/certs",
                       [Key("google-current", "RS256"), Key("google-next", "RS256")], google_jwk,
                       {"email": "someone@example.com", "email_verified": True, "azp": "flotilla-web"}),
    # Auth0 writes its issuer with a trailing slash.
    "auth0": Provider("/auth0/", "/auth0/.well-known/jwks.json", [Key("auth0-1", "RS256")], auth0_jwk,
                      {"scope": "openid orders.read", "roles": ["admin"], "azp": "flotilla-web"}),
    # A realm with its default RS256 key, an added PS256 key and the encryption key Keycloak publishes.
    "keycloak": Provider("/realms/flotilla", "/realms/flotilla/protocol/openid-connect/certs",
                         [Key("keycloak-enc", "RSA-OAEP", use="enc"), Key("keycloak-rs256", "RS256"),
                          Key("keycloak-ps256", "PS256")], keycloak_jwk,
                         {"realm_access": {"roles": ["admin"]}, "azp": "flotilla-web", "scope": "openid"}),
    "weak": Provider("/weak", "/weak/jwks", [Key("weak-1024", "RS256", bits=1024)], google_jwk, {}),
}
# Another issuer's key: a token it signs under the kid of one of ours must not verify.
FOREIGN = Key("foreign")
FORGERIES = {"", "foreign", "hs256-pem", "hs256-n", "none", "pss-as-rs256"}


def segment(value):
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def hs256(header, claims, secret):
    signing_input = f"{segment(header)}.{segment(claims)}"
    tag = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(tag)}"


def mint(provider, query):
    alg = query.get("alg", "RS256")
    key = provider.key(query.get("kid"), alg)
    forge = query.get("forge", "")
    if forge not in FORGERIES:
        raise ValueError(f"unknown forgery {forge}")
    now = int(time.time())
    exp_in = int(query.get("exp_in", "300"))
    claims = {"iss": query.get("iss", provider.issuer), "sub": query.get("sub", "user-1"),
              "aud": query.get("aud", AUDIENCE), "iat": now, "nbf": min(now, now + exp_in), "exp": now + exp_in,
              **provider.claims}
    header = {"typ": "JWT", "alg": alg, "kid": key.kid}
    if forge == "none":
        return f"{segment({**header, 'alg': 'none'})}.{segment(claims)}."
    if forge == "hs256-pem":
        return hs256({**header, "alg": "HS256"}, claims, key.pem())
    if forge == "hs256-n":
        return hs256({**header, "alg": "HS256"}, claims, base64.urlsafe_b64decode(key.n + "=="))
    signer = FOREIGN.signer if forge == "foreign" else key.signer
    if forge == "pss-as-rs256":
        _, payload, signature = jwt.encode({**header, "alg": "PS256"}, claims, signer).decode().split(".")
        return f"{segment({**header, 'alg': 'RS256'})}.{payload}.{signature}"
    return jwt.encode(header, claims, signer).decode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        try:
            if url.path == "/mint":
                return self.answer(200, "text/plain", mint(PROVIDERS[query["provider"]], query))
            for provider in PROVIDERS.values():
                if url.path == provider.discovery_path():
                    return self.answer(200, "application/json", json.dumps(provider.discovery(base)))
                if url.path == provider.jwks_path:
                    return self.answer(200, "application/json", json.dumps(provider.jwks()))
            return self.answer(404, "text/plain", "not found")
        except (KeyError, StopIteration, ValueError) as error:
            return self.answer(400, "text/plain", f"bad request: {error!r}")

    def answer(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    for provider in PROVIDERS.values():
        provider.issuer = f"http://127.0.0.1:{port}{provider.issuer_path}"

    def exit_when_stdin_closes():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    issuers = {name: provider.issuer for name, provider in PROVIDERS.items()}
    print(json.dumps({"port": port, "issuers": issuers}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
