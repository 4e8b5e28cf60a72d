//! `Idempotency-Key` for non-idempotent POSTs: a retried request gets the first response again
//! instead of doing the work twice.
//!
//! The key is claimed inside the same database transaction as the work, so the work and the
//! remembered response commit together or not at all. A service adds [`TABLE_SQL`] to its
//! migrations.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::problem::{Problem, ProblemKind};

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// The schema a service includes among its migrations.
pub const TABLE_SQL: &str = "CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status BIGINT,
    body TEXT,
    headers TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);";

/// `Idempotency-Key` as handlers that take it document it: `params(idempotency::OptionalKey)`.
/// The pattern is the extractor's rule, so that a client's generator builds only keys it takes.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct OptionalKey {
    /// Makes a retried request return the first response: 1 to 255 printable ASCII characters.
    #[param(rename = "Idempotency-Key", pattern = "^[\\x21-\\x7E]{1,255}$", min_length = 1, max_length = 255)]
    pub key: Option<String>,
}

/// `Idempotency-Key` where a request must carry one: `params(idempotency::RequiredKey)`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct RequiredKey {
    /// Required here: makes a retried request return the first response; 1 to 255 printable
    /// ASCII characters.
    #[param(rename = "Idempotency-Key", pattern = "^[\\x21-\\x7E]{1,255}$", min_length = 1, max_length = 255)]
    pub key: String,
}

/// A validated `Idempotency-Key` header (optional: without it, a request is simply not replayable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(&HEADER) else {
            return Err(
                Problem::new(ProblemKind::InvalidParameter).with_detail("the Idempotency-Key header is missing")
            );
        };
        value
            .to_str()
            .ok()
            .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
            .map(|key| Self(key.to_owned()))
            .ok_or_else(|| {
                Problem::new(ProblemKind::InvalidParameter)
                    .with_detail("Idempotency-Key must be 1 to 255 printable ASCII characters")
            })
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(&HEADER) {
            <Self as FromRequestParts<S>>::from_request_parts(parts, state).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The response remembered for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl StoredResponse {
    pub fn json(status: StatusCode, body: &impl serde::Serialize, headers: &HeaderMap) -> Self {
        Self {
            status: status.as_u16(),
            body: serde_json::to_string(body).unwrap_or_default(),
            headers: headers
                .iter()
                .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
                .collect(),
        }
    }
}

impl IntoResponse for StoredResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response =
            (status, [(axum::http::header::CONTENT_TYPE, "application/json")], self.body).into_response();
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                response.headers_mut().insert(name, value);
            }
        }
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// First use: do the work, then [`remember`] its response in the same transaction.
    Fresh,
    /// Seen before with the same request: answer with the remembered response.
    Replay(StoredResponse),
}

/// A stable fingerprint of the request a key is used with.
pub fn fingerprint(request: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Claims `key` in `scope` within the caller's transaction. Reuse with a different request is a
/// 422 problem.
pub async fn claim(
    conn: &mut AnyConnection,
    scope: &str,
    key: &IdempotencyKey,
    fingerprint: &str,
    now: &str,
) -> Result<Claim, ClaimError> {
    // Insert first: under PostgreSQL a concurrent claim of the same key waits here for ours to
    // commit or roll back, and under SQLite the write lock is already held.
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (scope, idempotency_key) DO NOTHING",
    )
    .bind(scope)
    .bind(&key.0)
    .bind(fingerprint)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let (stored_fingerprint, status, body, headers): (String, Option<i64>, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT fingerprint, status, body, headers FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2",
        )
        .bind(scope)
        .bind(&key.0)
        .fetch_one(&mut *conn)
        .await?;
    if stored_fingerprint != fingerprint {
        return Err(ClaimError::Problem(Problem::new(ProblemKind::IdempotencyKeyReused)));
    }
    match (status, body) {
        (Some(status), Some(body)) => Ok(Claim::Replay(StoredResponse {
            status: u16::try_from(status).unwrap_or(200),
            body,
            headers: headers.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default(),
        })),
        // Only visible if a claim committed without a response, which `remember` prevents.
        _ => Err(ClaimError::Problem(
            Problem::new(ProblemKind::Conflict).with_detail("a request with this Idempotency-Key is still in progress"),
        )),
    }
}

/// Stores the response for a fresh claim; commit the transaction afterwards.
pub async fn remember(
    conn: &mut AnyConnection,
    scope: &str,
    key: &IdempotencyKey,
    response: &StoredResponse,
) -> Result<(), sqlx::Error> {
    let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "UPDATE idempotency_keys SET status = $1, body = $2, headers = $3 WHERE scope = $4 AND idempotency_key = $5",
    )
    .bind(i64::from(response.status))
    .bind(&response.body)
    .bind(headers)
    .bind(scope)
    .bind(&key.0)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("idempotency key rejected")]
    Problem(Problem),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ClaimError> for Problem {
    fn from(error: ClaimError) -> Self {
        match error {
            ClaimError::Problem(problem) => problem,
            ClaimError::Database(error) => Problem::database(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_with_the_request() {
        assert_eq!(fingerprint(&serde_json::json!({"a": 1})), fingerprint(&serde_json::json!({"a": 1})));
        assert_ne!(fingerprint(&serde_json::json!({"a": 1})), fingerprint(&serde_json::json!({"a": 2})));
        assert_eq!(fingerprint(&1).len(), 64);
    }
}
