//! The token endpoint (authorization code, refresh token, client credentials) and revocation.
//!
//! Refresh tokens rotate: each use returns a new one and spends the old. Presenting a spent one
//! means two parties hold it, so the whole family is revoked (RFC 9700 §4.14.2); so is a family
//! whose authorization code is presented a second time (RFC 6749 §4.1.2).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use flotilla_chassis::secrets;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::authorize::pairs;
use super::oauth_error::OAuthError;
use crate::domain::{clients, pkce};
use crate::settings::{ClientSettings, GrantType};
use crate::store::{self, Redeemed, RefreshGrant, Rotated, User};
use crate::tokens::{IdTokenParts, Subject, TokenResponse};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().route("/oauth2/token", post(token)).route("/oauth2/revoke", post(revoke))
}

struct Form(HashMap<String, String>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }
}

fn form(headers: &HeaderMap, body: &Bytes) -> Result<Form, OAuthError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    pairs(body).map(Form).map_err(OAuthError::invalid_request)
}

/// RFC 6749 §2.3.1: HTTP Basic (both parts form-encoded) or client_id and client_secret in the
/// body, never both; a public client sends only its client_id.
fn authenticate<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<(String, &'s ClientSettings), OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(value) => {
            let (scheme, encoded) = value.split_once(' ').unwrap_or_default();
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client(true));
            }
            let decoded = B64.decode(encoded.trim()).map_err(|_| OAuthError::invalid_client(true))?;
            let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client(true))?;
            let (id, secret) = decoded.split_once(':').ok_or(OAuthError::invalid_client(true))?;
            let decode =
                |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            Some((decode(id).unwrap_or_default(), decode(secret).unwrap_or_default()))
        }
        None => None,
    };
    let used_basic = basic.is_some();
    let (id, secret) = match (basic, form.get("client_id"), form.get("client_secret")) {
        (Some(_), _, Some(_)) => return Err(OAuthError::invalid_request("use one client authentication method")),
        (Some((id, secret)), form_id, None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_request("client_id differs from the authenticated client"));
            }
            (id, Some(secret))
        }
        (None, Some(id), secret) => (id.to_owned(), secret.map(str::to_owned)),
        (None, None, _) => return Err(OAuthError::invalid_client(false)),
    };
    let client = state.settings.clients.get(&id).ok_or(OAuthError::invalid_client(used_basic))?;
    let authentic = match (&client.secret, &secret) {
        (Some(expected), Some(presented)) => secrets::same(presented, expected.expose_secret()),
        (None, None) => true,
        _ => false,
    };
    if !authentic {
        tracing::info!(client_id = %id, "client authentication failed");
        return Err(OAuthError::invalid_client(used_basic));
    }
    Ok((id, client))
}

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let form = form(&headers, &body)?;
        let (client_id, client) = authenticate(&state, &headers, &form)?;
        let grant_type = form.require("grant_type")?;
        let issued = match grant_type {
            "authorization_code" => exchange_code(&state, &form, &client_id, client).await?,
            "refresh_token" => refresh(&state, &form, &client_id, client).await?,
            "client_credentials" => client_credentials(&state, &form, &client_id, client)?,
            other => return Err(OAuthError::unsupported_grant_type(other)),
        };
        Ok::<_, OAuthError>(issued)
    }
    .await;
    match result {
        Ok(issued) => {
            let mut response = axum::Json(issued).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => {
            tracing::info!(error = error.code(), "token request refused");
            error.into_response()
        }
    }
}

fn allows(client: &ClientSettings, grant: GrantType) -> Result<(), OAuthError> {
    if client.grant_types.contains(&grant) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized_client("this client may not use this grant type"))
    }
}

async fn exchange_code(
    state: &AppState,
    form: &Form,
    client_id: &str,
    client: &ClientSettings,
) -> Result<TokenResponse, OAuthError> {
    allows(client, GrantType::AuthorizationCode)?;
    let code_hash = secrets::fingerprint(form.require("code")?);
    let redirect_uri = form.require("redirect_uri")?;
    let verifier = form.require("code_verifier")?;
    let now = OffsetDateTime::now_utc();
    let mut tx = state.db.begin_write().await?;
    let grant = match store::redeem_code(&mut tx, &code_hash, now).await? {
        Redeemed::Fresh(grant) => grant,
        Redeemed::Replayed { family_id } => {
            if let Some(family) = family_id {
                store::revoke_family(&mut *tx, &family, now).await?;
                tracing::warn!(family_id = %family, "authorization code replayed: its tokens are revoked");
            }
            tx.commit().await?;
            return Err(OAuthError::invalid_grant("the code was already used"));
        }
        Redeemed::Unknown => return Err(OAuthError::invalid_grant("the code is unknown or expired")),
    };
    // The code is spent whatever happens next: a failed PKCE check gets no second guess.
    let checks = if grant.client_id != client_id {
        Err(OAuthError::invalid_grant("the code was issued to another client"))
    } else if grant.redirect_uri != redirect_uri {
        Err(OAuthError::invalid_grant("redirect_uri differs from the authorization request"))
    } else if !pkce::verify(verifier, &grant.code_challenge) {
        Err(OAuthError::invalid_grant("the code_verifier does not match the code_challenge"))
    } else {
        Ok(())
    };
    if let Err(refused) = checks {
        tx.commit().await?;
        return Err(refused);
    }
    let user = store::user_by_id(&mut *tx, &grant.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    let family = uuid::Uuid::now_v7().to_string();
    let refresh = RefreshGrant {
        family_id: family.clone(),
        client_id: client_id.to_owned(),
        user_id: user.id.clone(),
        scope: grant.scope.clone(),
        auth_time: grant.auth_time,
    };
    let issued = issue_for_user(state, &mut tx, client, &user, &refresh, grant.nonce.as_deref()).await?;
    if issued.refresh_token.is_some() {
        store::link_code_to_family(&mut *tx, &code_hash, &family).await?;
    }
    tx.commit().await?;
    Ok(issued)
}

async fn refresh(
    state: &AppState,
    form: &Form,
    client_id: &str,
    client: &ClientSettings,
) -> Result<TokenResponse, OAuthError> {
    allows(client, GrantType::RefreshToken)?;
    let token_hash = secrets::fingerprint(form.require("refresh_token")?);
    let now = OffsetDateTime::now_utc();
    let mut tx = state.db.begin_write().await?;
    let grant = match store::use_refresh(&mut tx, &token_hash, now).await? {
        Rotated::Fresh(grant) if grant.client_id == client_id => grant,
        Rotated::Fresh(RefreshGrant { family_id, .. }) | Rotated::Reused { family_id } => {
            let revoked = store::revoke_family(&mut *tx, &family_id, now).await?;
            tx.commit().await?;
            tracing::warn!(%family_id, revoked, "refresh token reused or presented by another client: family revoked");
            return Err(OAuthError::invalid_grant("the refresh token was already used; sign in again"));
        }
        Rotated::Unknown => return Err(OAuthError::invalid_grant("the refresh token is unknown, expired or revoked")),
    };
    // A narrower scope may be asked for, never a wider one (RFC 6749 §6).
    let mut grant = grant;
    if let Some(requested) = form.get("scope") {
        let held: Vec<String> = grant.scope.split_whitespace().map(str::to_owned).collect();
        let narrowed = clients::granted_scopes(requested, &held).map_err(|s| OAuthError::invalid_scope(&s))?;
        grant.scope = narrowed.into_iter().collect::<Vec<_>>().join(" ");
    }
    let user = store::user_by_id(&mut *tx, &grant.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    let issued = issue_for_user(state, &mut tx, client, &user, &grant, None).await?;
    tx.commit().await?;
    Ok(issued)
}

/// Access token, ID token when `openid` was granted, and a new refresh token in `grant`'s family
/// when the client may refresh. Roles are read afresh, so a changed role shows at the next refresh.
async fn issue_for_user(
    state: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    client: &ClientSettings,
    user: &User,
    grant: &RefreshGrant,
    nonce: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let minter = &state.minter;
    let subject = Subject { id: &user.id, roles: &user.roles };
    let access_token = minter.access_token(&subject, &grant.client_id, &grant.scope)?;
    let scopes: Vec<&str> = grant.scope.split_whitespace().collect();
    let id_token = if scopes.contains(&"openid") {
        let parts = IdTokenParts {
            subject: Subject { id: &user.id, roles: &user.roles },
            client_id: &grant.client_id,
            nonce,
            email: scopes.contains(&"email").then_some(user.email.as_str()),
            auth_time: grant.auth_time,
            access_token: &access_token,
        };
        Some(minter.id_token(parts)?)
    } else {
        None
    };
    let refresh_token = if client.grant_types.contains(&GrantType::RefreshToken) {
        let token = secrets::generate().map_err(|_| OAuthError::server_error(&"no randomness"))?;
        let now = OffsetDateTime::now_utc();
        let ttl = time::Duration::seconds(i64::try_from(state.settings.refresh_token_ttl_s).unwrap_or(i64::MAX));
        store::insert_refresh(&mut **tx, &secrets::fingerprint(&token), grant, now, now + ttl).await?;
        Some(token)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: minter.access_ttl_s,
        scope: grant.scope.clone(),
        refresh_token,
        id_token,
    })
}

fn client_credentials(
    state: &AppState,
    form: &Form,
    client_id: &str,
    client: &ClientSettings,
) -> Result<TokenResponse, OAuthError> {
    allows(client, GrantType::ClientCredentials)?;
    let scope = clients::granted_scopes(form.get("scope").unwrap_or_default(), &client.scopes)
        .map_err(|s| OAuthError::invalid_scope(&s))?
        .into_iter()
        .collect::<Vec<_>>()
        .join(" ");
    let subject = Subject { id: client_id, roles: &client.roles };
    let access_token = state.minter.access_token(&subject, client_id, &scope)?;
    tracing::info!(client_id, "issued a client credentials token");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.minter.access_ttl_s,
        scope,
        refresh_token: None,
        id_token: None,
    })
}

/// RFC 7009. Unknown tokens are answered 200 too, so the endpoint reveals nothing.
async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let form = form(&headers, &body)?;
        let (client_id, _) = authenticate(&state, &headers, &form)?;
        let token = form.require("token")?;
        // A JWT is an access token: self-contained and short-lived, so it cannot be revoked here.
        if token.split('.').count() == 3 && form.get("token_type_hint") != Some("refresh_token") {
            return Err(OAuthError::unsupported_token_type());
        }
        let owner = store::refresh_owner(state.db.pool(), &secrets::fingerprint(token)).await?;
        if let Some((family_id, owner_client)) = owner
            && owner_client == client_id
        {
            store::revoke_family(state.db.pool(), &family_id, OffsetDateTime::now_utc()).await?;
            tracing::info!(%family_id, "refresh token family revoked on request");
        }
        Ok::<_, OAuthError>(())
    }
    .await;
    match result {
        Ok(()) => axum::http::StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    }
}
