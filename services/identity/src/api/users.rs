//! The service's own API: registration, a user's record (its owner or an admin), the OpenID
//! Connect userinfo endpoint, and an operator's key rotation.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flotilla_chassis::auth::{Admin, Caller, roles};
use flotilla_chassis::extract::{Json, Path};
use flotilla_chassis::problem::responses;
use flotilla_chassis::{FieldViolation, Problem, ProblemKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::domain::credentials;
use crate::store::{self, StoreError, User};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_user))
        .routes(routes!(get_user))
        .routes(routes!(rotate_keys))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
}

/// A new account as the API and the registration form take it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// One `@`, something before it, a dotted domain after it, no spaces or angle brackets; at
    /// most 254 characters once trimmed; compared in lower case.
    #[schema(
        example = "ada@example.com",
        pattern = "^\\s*[^@\\s<>\\x00-\\x1F\\x7F-\\x9F]+@[^@.\\s<>\\x00-\\x1F\\x7F-\\x9F][^@\\s<>\\x00-\\x1F\\x7F-\\x9F]*\\.[^@\\s<>\\x00-\\x1F\\x7F-\\x9F]*[^@.\\s<>\\x00-\\x1F\\x7F-\\x9F]\\s*$"
    )]
    pub email: String,
    /// 12 to 128 characters; not only spaces, not one character repeated, not a common password.
    #[schema(example = "violet anchor tuesday lantern", format = Password, min_length = 12, max_length = 128)]
    pub password: String,
}

/// A user's account record.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0195b2c4-7e3a-7f19-a6d2-58c1e0b4f937",
    "email": "ada@example.com",
    "roles": ["customer"],
    "created_at": "2025-03-20T08:56:16.698243Z"
}))]
pub struct UserResponse {
    /// The user's id: the `sub` of their tokens.
    pub id: String,
    /// The email address they sign in with, trimmed and in lower case.
    pub email: String,
    /// What the user may do: `customer` for every account, `admin` as well for administrators.
    pub roles: Vec<String>,
    /// When the account was created (RFC 3339, UTC).
    pub created_at: String,
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            roles: user.roles.clone(),
            created_at: flotilla_chassis::db::timestamp(user.created_at),
        }
    }
}

/// A customer account from an email address and a password, hashed off the async workers; or
/// what is wrong with them, in words for a person.
pub(super) async fn new_customer(email: &str, password: String) -> Result<User, String> {
    let email = credentials::email(email).map_err(|e| format!("The email address {e}."))?;
    credentials::password(&password).map_err(|e| format!("The password {e}."))?;
    let hash = tokio::task::spawn_blocking(move || credentials::hash(&password))
        .await
        .map_err(|e| e.to_string())
        .and_then(|hashed| hashed)
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            "The account could not be created; try again.".to_owned()
        })?;
    Ok(User {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        password_hash: hash,
        roles: vec![roles::CUSTOMER.to_owned()],
        created_at: OffsetDateTime::now_utc(),
    })
}

/// Register a customer account. Limited per client address, like sign-in. An email that already
/// has an account is answered exactly as a new one, so that registration does not tell a
/// stranger who has an account (ADR 0014): the account is left as it was, and signing in takes
/// its own password.
#[utoipa::path(post, path = "/api/v1/identity/users", security(()), tag = "identity", request_body = Registration,
    responses(
        (status = 201, description = "Registered (or the email already had an account, which is left as it was)", body = UserResponse),
        (status = 422, description = "The email or password is not acceptable", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_user(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(registration): Json<Registration>,
) -> Result<Response, Problem> {
    let client = state.client(peer, &headers);
    state.take_attempt(client).map_err(|seconds| Problem::new(ProblemKind::RateLimited).with_retry_after(seconds))?;
    let mut violations = Vec::new();
    if let Err(e) = credentials::email(&registration.email) {
        violations.push(FieldViolation::new("/email", e));
    }
    if let Err(e) = credentials::password(&registration.password) {
        violations.push(FieldViolation::new("/password", e));
    }
    if !violations.is_empty() {
        return Err(Problem::validation(violations));
    }
    let user = new_customer(&registration.email, registration.password).await.map_err(|e| Problem::internal(&e))?;
    match store::insert_user(state.db.pool(), &user).await {
        Ok(()) => tracing::info!(user_id = %user.id, "registered"),
        // The record made for the new account, never stored: its id names no one.
        Err(StoreError::EmailTaken) => tracing::info!("registration for an email that has an account, answered alike"),
        Err(error) => return Err(error.into()),
    }
    Ok((StatusCode::CREATED, Json(UserResponse::from(&user))).into_response())
}

/// A user's record: for the user themself or an admin.
#[utoipa::path(get, path = "/api/v1/identity/users/{id}", tag = "identity", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id (the `sub` of their tokens)")),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        responses::Unauthenticated,
        (status = 403, description = "Someone else's record", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_user(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UserResponse>, Problem> {
    caller.require_owner(&id, Some(roles::ADMIN))?;
    let user =
        store::user_by_id(state.db.pool(), &id).await?.ok_or_else(|| Problem::not_found(format!("no user {id}")))?;
    Ok(Json(UserResponse::from(&user)))
}

/// Make a new signing key now; it is published at once and signs after `key_prepublish_s`.
#[utoipa::path(post, path = "/api/v1/identity/keys/rotate", tag = "identity", security(("bearer" = [])),
    responses(
        (status = 202, description = "Rotation scheduled; the body is the JWKS as now published"),
        responses::Unauthenticated,
        responses::NotAdmin,
    ))]
async fn rotate_keys(Admin(caller): Admin, State(state): State<AppState>) -> Result<Response, Problem> {
    state.minter.keys.rotate().await.map_err(|e| Problem::internal(&e))?;
    tracing::info!(by = %caller.subject, "signing key rotation requested");
    Ok((StatusCode::ACCEPTED, Json((*state.minter.keys.jwks()).clone())).into_response())
}

/// OpenID Connect Core §5.3: claims about the signed-in user, for a token with `openid`.
async fn userinfo(caller: Caller, State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    caller.require_scope("openid")?;
    let user = store::user_by_id(state.db.pool(), &caller.subject)
        .await?
        .ok_or_else(|| Problem::new(ProblemKind::Forbidden).with_detail("the token's subject is not a user"))?;
    let mut claims = json!({"sub": user.id, "roles": user.roles});
    if caller.scopes.contains("email") {
        claims["email"] = json!(user.email);
        claims["email_verified"] = json!(false);
    }
    Ok(Json(claims))
}
