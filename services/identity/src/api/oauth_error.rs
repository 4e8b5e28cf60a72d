//! Errors of the token and revocation endpoints, in the RFC 6749 §5.2 shape that every OAuth
//! client library parses (`{"error": ..., "error_description": ...}`), not problem+json.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self { status, code, description: description.into(), basic_challenge: false }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 401; with `WWW-Authenticate: Basic` when the client tried Basic authentication.
    pub fn invalid_client(basic: bool) -> Self {
        Self {
            basic_challenge: basic,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed")
        }
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", format!("grant_type {grant} is not supported"))
    }

    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", format!("the scope {scope} is not allowed for this client"))
    }

    pub fn unsupported_token_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "access tokens are short-lived and not revocable; revoke the refresh token",
        )
    }

    /// 500 with the cause logged here and never sent.
    pub fn server_error(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "token endpoint failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "an unexpected error occurred")
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

/// Failures of the provider itself: `server_error`, with the cause logged and not sent.
macro_rules! server_errors {
    ($($source:ty),*) => {$(
        impl From<$source> for OAuthError {
            fn from(error: $source) -> Self {
                Self::server_error(&error)
            }
        }
    )*};
}

server_errors!(sqlx::Error, crate::store::StoreError, flotilla_chassis::auth::KeyError);

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="flotilla""#));
        }
        response
    }
}
