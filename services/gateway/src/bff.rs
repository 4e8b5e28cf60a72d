//! Backend-for-frontend: the browser signs in through `/auth/login`, which runs the
//! authorization code flow with PKCE against the identity provider; the tokens stay in a
//! server-side session; the browser holds only an HttpOnly, SameSite cookie naming it.
//! State-changing requests authenticated by that cookie must also carry the session's CSRF
//! token in `X-CSRF-Token`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use flotilla_chassis::http::cookie;
use flotilla_chassis::secrets::{self, fingerprint};
use flotilla_chassis::{Problem, ProblemKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::GatewayState;
use crate::domain::forwarding::safe_return_path;
use crate::session::{self, Login, Session};

const LOGIN_COOKIE: &str = "flotilla_login";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// An access token this close to expiry is refreshed before it is used.
const REFRESH_AHEAD: time::Duration = time::Duration::seconds(30);

pub fn router() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .route("/auth/callback", get(callback))
        .routes(routes!(logout))
        .routes(routes!(current_session))
}

pub fn session_cookie_name(secure: bool) -> &'static str {
    // `__Host-` binds the cookie to this exact host over https (no Domain, Path=/).
    if secure { "__Host-flotilla_session" } else { "flotilla_session" }
}

fn random() -> Result<String, Problem> {
    secrets::generate().map_err(|_| Problem::internal(&"no randomness"))
}

fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn secure_attribute(state: &GatewayState) -> &'static str {
    if state.settings.secure_cookies() { "; Secure" } else { "" }
}

fn unavailable(error: &dyn std::fmt::Display) -> Problem {
    tracing::warn!(%error, "sign-in could not reach the identity provider");
    Problem::new(ProblemKind::Unavailable).with_detail("the identity provider is unavailable").with_retry_after(1)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LoginParams {
    /// A path on this site to return to after signing in (default `/`).
    return_to: Option<String>,
}

/// Start signing in: redirects to the identity provider.
#[utoipa::path(get, path = "/auth/login", tag = "session", params(LoginParams),
    responses((status = 303, description = "To the identity provider's sign-in page")))]
async fn login(State(state): State<GatewayState>, Query(params): Query<LoginParams>) -> Result<Response, Problem> {
    let return_to = match params.return_to.as_deref() {
        None => "/".to_owned(),
        Some(path) => safe_return_path(path)
            .ok_or_else(|| {
                Problem::new(ProblemKind::InvalidParameter).with_detail("return_to must be a path on this site")
            })?
            .to_owned(),
    };
    let (login_state, verifier, nonce) = (random()?, random()?, random()?);
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    let url = state
        .oidc
        .authorize_url(&state.settings.redirect_uri(), &login_state, &challenge, &nonce)
        .await
        .map_err(|e| unavailable(&e))?;
    let expires = OffsetDateTime::now_utc() + time::Duration::minutes(10);
    let login = Login { code_verifier: verifier, nonce, return_to };
    session::start_login(&state.db, &fingerprint(&login_state), &login, expires).await?;
    let mut response = Redirect::to(&url).into_response();
    // Binds the callback to this browser: a code someone else obtained cannot be planted here.
    set_cookie(
        &mut response,
        format!(
            "{LOGIN_COOKIE}={login_state}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=600{}",
            secure_attribute(&state)
        ),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<GatewayState>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Result<Response, Problem> {
    let refused = |detail: &str| Problem::new(ProblemKind::Forbidden).with_detail(detail.to_owned());
    if let Some(error) = &params.error {
        tracing::info!(error = %error, "sign-in ended without a code");
        return Err(refused("the sign-in was not completed"));
    }
    let (Some(code), Some(login_state)) = (params.code.as_deref(), params.state.as_deref()) else {
        return Err(Problem::new(ProblemKind::InvalidParameter).with_detail("code and state are required"));
    };
    if cookie(&headers, LOGIN_COOKIE).is_none_or(|bound| bound != login_state) {
        return Err(refused("this sign-in was not started in this browser"));
    }
    if params.iss.as_deref().is_some_and(|iss| iss != state.oidc.issuer()) {
        return Err(refused("the sign-in answer came from another issuer"));
    }
    let now = OffsetDateTime::now_utc();
    let login = session::take_login(&state.db, &fingerprint(login_state), now)
        .await?
        .ok_or_else(|| refused("this sign-in expired or was already completed"))?;
    let tokens =
        state.oidc.exchange(code, &login.code_verifier, &state.settings.redirect_uri()).await.map_err(|e| {
            tracing::info!(error = %e, "code exchange failed");
            refused("the sign-in could not be completed")
        })?;
    let caller = state.verifier.verify(&tokens.access_token).await.map_err(|e| {
        tracing::warn!(reason = %e, "the provider's access token did not verify");
        refused("the sign-in could not be completed")
    })?;
    let id_token = tokens.id_token.as_deref().ok_or_else(|| refused("the provider sent no ID token"))?;
    let identified =
        state.verifier.verify_id_token(id_token, state.oidc.client_id(), &login.nonce).await.map_err(|e| {
            tracing::warn!(reason = %e, "the provider's ID token did not verify");
            refused("the sign-in could not be completed")
        })?;
    if identified.subject != caller.subject {
        return Err(refused("the ID token and the access token name different users"));
    }
    let session_id = random()?;
    let max = time::Duration::seconds(i64::try_from(state.settings.session_max_s).unwrap_or(i64::MAX));
    let session = Session {
        subject: caller.subject.clone(),
        roles: caller.roles.into_iter().collect(),
        csrf_token: random()?,
        access_token: tokens.access_token,
        access_expires_at: now + time::Duration::seconds(tokens.expires_in.unwrap_or(60)),
        refresh_token: tokens.refresh_token,
        last_seen_at: now,
        expires_at: now + max,
    };
    let name = session_cookie_name(state.settings.secure_cookies());
    // The session this browser held before ends here, whoever it was for: a signed-in browser
    // has one session, and a cookie copied from it earlier stops working.
    if let Some(earlier) = cookie(&headers, name)
        && session::delete(&state.db, &fingerprint(earlier)).await?.is_some()
    {
        tracing::info!("the browser's earlier session ended at sign-in");
    }
    session::create(&state.db, &fingerprint(&session_id), &session, now).await?;
    tracing::info!(subject = %session.subject, "browser session started");
    let mut response = Redirect::to(&login.return_to).into_response();
    set_cookie(
        &mut response,
        format!(
            "{name}={session_id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
            state.settings.session_max_s,
            secure_attribute(&state)
        ),
    );
    set_cookie(&mut response, format!("{LOGIN_COOKIE}=; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=0"));
    Ok(response)
}

/// The browser's session, found by its cookie and still alive.
pub struct Current {
    pub id_hash: String,
    pub session: Session,
}

pub async fn current(state: &GatewayState, headers: &HeaderMap) -> Result<Option<Current>, Problem> {
    let name = session_cookie_name(state.settings.secure_cookies());
    let Some(id) = cookie(headers, name) else { return Ok(None) };
    let id_hash = fingerprint(id);
    let Some(session) = session::find(&state.db, &id_hash).await? else {
        return Ok(None);
    };
    let now = OffsetDateTime::now_utc();
    let idle = time::Duration::seconds(i64::try_from(state.settings.session_idle_s).unwrap_or(i64::MAX));
    if now >= session.expires_at || now - session.last_seen_at >= idle {
        session::delete(&state.db, &id_hash).await?;
        return Ok(None);
    }
    // Writing on every request would make each one a database write; a minute's precision is enough.
    if now - session.last_seen_at > time::Duration::minutes(1) {
        session::touch(&state.db, &id_hash, now).await?;
    }
    Ok(Some(Current { id_hash, session }))
}

/// Whether a cookie-authenticated request carries the session's CSRF token.
pub fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|sent| secrets::same(sent, &session.csrf_token))
}

/// The session's access token, refreshed first when it is about to expire. One request
/// refreshes (across replicas, through a lock in the database); the others wait for its result,
/// since presenting the same refresh token twice would revoke the whole session at the provider.
pub async fn access_token(state: &GatewayState, current: &Current) -> Result<String, Problem> {
    let mut session = current.session.clone();
    for _ in 0..40 {
        let now = OffsetDateTime::now_utc();
        if session.access_expires_at - now > REFRESH_AHEAD {
            return Ok(session.access_token);
        }
        let Some(refresh_token) = session.refresh_token.clone() else {
            return Ok(session.access_token);
        };
        let locked = session::lock_refresh(&state.db, &current.id_hash, now, now + time::Duration::seconds(10)).await?;
        if locked {
            return match state.oidc.refresh(&refresh_token).await {
                Ok(tokens) => {
                    let expires = now + time::Duration::seconds(tokens.expires_in.unwrap_or(60));
                    let refresh = tokens.refresh_token.as_deref().or(Some(refresh_token.as_str()));
                    session::store_refreshed(&state.db, &current.id_hash, &tokens.access_token, expires, refresh)
                        .await?;
                    Ok(tokens.access_token)
                }
                Err(error) => {
                    tracing::info!(%error, "session refresh refused; the session ends");
                    session::delete(&state.db, &current.id_hash).await?;
                    Err(Problem::new(ProblemKind::Unauthenticated).with_detail("the session has ended; sign in again"))
                }
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        session = session::find(&state.db, &current.id_hash)
            .await?
            .ok_or_else(|| Problem::new(ProblemKind::Unauthenticated).with_detail("the session has ended"))?;
    }
    Err(Problem::new(ProblemKind::Unavailable).with_detail("the session is being refreshed; retry").with_retry_after(1))
}

/// End the browser session (needs `X-CSRF-Token`).
#[utoipa::path(post, path = "/auth/logout", tag = "session",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 403, description = "The CSRF token is missing or wrong", body = Problem, content_type = "application/problem+json"),
    ))]
async fn logout(State(state): State<GatewayState>, headers: HeaderMap) -> Result<Response, Problem> {
    if let Some(current) = current(&state, &headers).await? {
        if !csrf_ok(&headers, &current.session) {
            return Err(
                Problem::new(ProblemKind::Forbidden).with_detail("send the session's CSRF token in X-CSRF-Token")
            );
        }
        let ended = session::delete(&state.db, &current.id_hash).await?;
        if let Some(refresh) = ended.and_then(|s| s.refresh_token) {
            state.oidc.revoke(&refresh).await;
        }
        tracing::info!(subject = %current.session.subject, "browser session ended");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let name = session_cookie_name(state.settings.secure_cookies());
    set_cookie(
        &mut response,
        format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", secure_attribute(&state)),
    );
    Ok(response)
}

/// Who is signed in, and the CSRF token for state-changing requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub subject: String,
    pub roles: Vec<String>,
    pub csrf_token: String,
    pub expires_at: String,
}

/// The browser's session: who is signed in (never the tokens).
#[utoipa::path(get, path = "/auth/session", tag = "session",
    responses(
        (status = 200, description = "Signed in", body = SessionInfo),
        (status = 401, description = "No session", body = Problem, content_type = "application/problem+json"),
    ))]
async fn current_session(State(state): State<GatewayState>, headers: HeaderMap) -> Result<Response, Problem> {
    let current = current(&state, &headers)
        .await?
        .ok_or_else(|| Problem::new(ProblemKind::Unauthenticated).with_detail("not signed in; start at /auth/login"))?;
    let session = current.session;
    let mut response = axum::Json(SessionInfo {
        subject: session.subject,
        roles: session.roles,
        csrf_token: session.csrf_token,
        expires_at: flotilla_chassis::db::timestamp(session.expires_at),
    })
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub type Oidc = Arc<flotilla_chassis::auth::OidcClient>;
