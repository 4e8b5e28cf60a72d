"""A standard OpenID Connect client library (Authlib) against Flotilla's identity service.

Used by tests/component/standard_client.rs: discovery, the authorization code flow with PKCE,
ID token validation against the published JWKS, userinfo and a refresh, all through Authlib's own
code paths with no Flotilla-specific settings. Exits non-zero with a message on any failure.

    python3 standard_client.py <issuer> <client_id> <redirect_uri> <email> <password>
"""

import html
import re
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken


def main(issuer, client_id, redirect_uri, email, password):
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == issuer, discovery
    client = OAuth2Session(
        client_id,
        redirect_uri=redirect_uri,
        scope="openid email offline_access",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    # The browser's part: the sign-in form, as a person would submit it.
    browser = requests.Session()
    page = browser.get(url, timeout=5)
    page.raise_for_status()
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    }
    fields.update(email=email, password=password)
    answer = browser.post(discovery["authorization_endpoint"], data=fields, allow_redirects=False, timeout=5)
    assert answer.status_code == 303, (answer.status_code, answer.text[:500])
    callback = answer.headers["location"]
    assert parse_qs(urlparse(callback).query)["iss"] == [issuer]

    token = client.fetch_token(
        discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
    )
    keys = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=5).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": issuer}},
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate()  # exp, iat, aud, nonce, at_hash
    assert claims["email"] == email, claims

    info = client.get(discovery["userinfo_endpoint"], timeout=5).json()
    assert info["sub"] == claims["sub"] and info["email"] == email, info

    refreshed = client.refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    print("ok: discovery, code flow with PKCE, ID token, userinfo, refresh")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:6])
    except Exception as error:  # report any failure as one line for the Rust test
        print(f"failed: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
