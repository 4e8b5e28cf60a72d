//! Signing in without a browser, as a tool or a test does: the code flow with PKCE against this
//! service's own sign-in form, filled in with an email and a password, then the code exchanged
//! for tokens. It knows the form (its hidden fields and CSRF cookie) because it is this service's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::Digest;

/// What a headless sign-in asks for.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    /// Identity's base URL.
    pub identity: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// The token response (`access_token`, `id_token`, `refresh_token` as granted).
pub async fn sign_in(http: &reqwest::Client, request: SignIn<'_>) -> Result<Value, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let authorize = format!("{}/oauth2/authorize", request.identity.trim_end_matches('/'));
    let browser = flotilla_chassis::outbound::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail("no HTTP client", &e))?;
    let query = [
        ("response_type", "code"),
        ("client_id", request.client_id),
        ("redirect_uri", request.redirect_uri),
        ("scope", request.scope),
        ("state", "headless"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = browser.get(&authorize).query(&query).send().await.map_err(|e| fail("cannot reach identity", &e))?;
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let mut form = hidden_fields(&page.text().await.map_err(|e| fail("the sign-in page", &e))?);
    form.push(("email".into(), request.email.into()));
    form.push(("password".into(), request.password.into()));
    let signed_in = browser
        .post(&authorize)
        .header("cookie", cookies.join("; "))
        .form(&form)
        .send()
        .await
        .map_err(|e| fail("signing in", &e))?;
    let location = signed_in.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
    let code = url::Url::parse(location)
        .ok()
        .and_then(|url| url.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()))
        .ok_or_else(|| format!("{} was not signed in (status {})", request.email, signed_in.status()))?;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", request.redirect_uri),
        ("client_id", request.client_id),
        ("code_verifier", verifier.as_str()),
    ];
    let token_url = format!("{}/oauth2/token", request.identity.trim_end_matches('/'));
    let response = http.post(token_url).form(&exchange).send().await.map_err(|e| fail("exchanging the code", &e))?;
    if !response.status().is_success() {
        return Err(format!("the code exchange answered {}", response.status()));
    }
    response.json().await.map_err(|e| fail("the token response", &e))
}

/// The hidden fields of the sign-in form, unescaped.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.split_once("value=\"")?.1.split_once('"')?.0;
            let value = value.replace("&#43;", "+").replace("&#x2f;", "/").replace("&#x27;", "'").replace("&amp;", "&");
            Some((name.to_owned(), value))
        })
        .collect()
}

/// The `sub` claim of an access token (read, not verified: the caller just received it).
pub fn subject_of(token: &str) -> Option<String> {
    let claims = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice::<Value>(&claims).ok()?["sub"].as_str().map(str::to_owned)
}
