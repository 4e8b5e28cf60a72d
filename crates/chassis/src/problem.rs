//! RFC 9457 problem details: the one error shape of every Flotilla HTTP API.
//!
//! `type` URIs are stable identifiers (`urn:flotilla:problem:<slug>`), documented in
//! docs/api/problems.md; clients branch on them, never on `title` or `detail`.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// One violated rule of a request, located by a JSON pointer into the body (`/price/currency`)
/// or by a parameter's name. On the wire it is RFC 9457's shape: `detail`, and `pointer` (a URI
/// fragment, `#/price/currency`) or `parameter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub message: String,
}

impl Serialize for FieldViolation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("detail", &self.message)?;
        if self.field.starts_with('/') || self.field.is_empty() {
            map.serialize_entry("pointer", &format!("#{}", self.field))?;
        } else {
            map.serialize_entry("parameter", &self.field)?;
        }
        map.end()
    }
}

impl utoipa::PartialSchema for FieldViolation {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let text = |description: &str| ObjectBuilder::new().schema_type(Type::String).description(Some(description));
        ObjectBuilder::new()
            .description(Some("One violated rule of a request (RFC 9457 §3): where, and what is wrong."))
            .property("detail", text("What is wrong with the value"))
            .required("detail")
            .property("pointer", text("Where in the body: a JSON Pointer as a URI fragment (#/price/currency)"))
            .property("parameter", text("Which path or query parameter"))
            .into()
    }
}

impl ToSchema for FieldViolation {}

impl FieldViolation {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// An RFC 9457 problem details document: why a request was not done.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(schema_with = problem_types)]
    pub kind: String,
    /// A short summary of the problem type, the same for every occurrence of it.
    pub title: &'static str,
    /// The HTTP status code of the answer.
    pub status: u16,
    /// What went wrong this time, for a person to read; absent when the title says it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every rule of the request that was violated, when the problem is about its content.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
    /// Headers that belong to this kind of error (`Retry-After`, `WWW-Authenticate`).
    #[serde(skip)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Every problem type, so that a client can switch over them exhaustively.
fn problem_types() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("The problem type (docs/api/problems.md); clients branch on it"))
        .enum_values(Some(ProblemKind::ALL.iter().map(|kind| format!("urn:flotilla:problem:{}", kind.slug()))))
        .examples(["urn:flotilla:problem:validation"])
        .build()
}

/// The catalogue of problem types. Adding one is fine; changing a slug breaks clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Validation,
    MalformedBody,
    UnsupportedMediaType,
    PayloadTooLarge,
    InvalidParameter,
    NotFound,
    MethodNotAllowed,
    Conflict,
    IdempotencyKeyReused,
    PreconditionFailed,
    PreconditionRequired,
    Overloaded,
    Timeout,
    Unavailable,
    Internal,
    Unauthenticated,
    Forbidden,
    RateLimited,
    BadGateway,
    UpstreamTimeout,
    /// Only a card processor answers it (the payment-provider simulator, which stands in for one).
    CardDeclined,
}

impl ProblemKind {
    /// Every kind, in the order of docs/api/problems.md.
    pub const ALL: [ProblemKind; 21] = [
        Self::Validation,
        Self::MalformedBody,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::InvalidParameter,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::IdempotencyKeyReused,
        Self::PreconditionFailed,
        Self::PreconditionRequired,
        Self::Overloaded,
        Self::Timeout,
        Self::Unavailable,
        Self::Internal,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::RateLimited,
        Self::BadGateway,
        Self::UpstreamTimeout,
        Self::CardDeclined,
    ];

    pub fn slug(self) -> &'static str {
        self.describe().0
    }

    fn describe(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::Validation => ("validation", S::UNPROCESSABLE_ENTITY, "The request is not valid"),
            Self::MalformedBody => ("malformed-body", S::BAD_REQUEST, "The request body is not valid JSON"),
            Self::UnsupportedMediaType => {
                ("unsupported-media-type", S::UNSUPPORTED_MEDIA_TYPE, "The request body must be application/json")
            }
            Self::PayloadTooLarge => ("payload-too-large", S::PAYLOAD_TOO_LARGE, "The request body is too large"),
            Self::InvalidParameter => ("invalid-parameter", S::BAD_REQUEST, "A path or query parameter is not valid"),
            Self::NotFound => ("not-found", S::NOT_FOUND, "The resource does not exist"),
            Self::MethodNotAllowed => ("method-not-allowed", S::METHOD_NOT_ALLOWED, "The method is not allowed here"),
            Self::Conflict => ("conflict", S::CONFLICT, "The request conflicts with the current state"),
            Self::IdempotencyKeyReused => (
                "idempotency-key-reused",
                S::UNPROCESSABLE_ENTITY,
                "The Idempotency-Key was already used with a different request",
            ),
            Self::PreconditionFailed => {
                ("precondition-failed", S::PRECONDITION_FAILED, "The resource has changed since it was read")
            }
            Self::PreconditionRequired => {
                ("precondition-required", S::PRECONDITION_REQUIRED, "This update requires an If-Match header")
            }
            Self::Overloaded => ("overloaded", S::SERVICE_UNAVAILABLE, "The service is overloaded; retry later"),
            Self::Timeout => ("timeout", S::SERVICE_UNAVAILABLE, "The request took too long and was abandoned"),
            Self::Unavailable => ("unavailable", S::SERVICE_UNAVAILABLE, "A dependency of the service is unavailable"),
            Self::Internal => ("internal", S::INTERNAL_SERVER_ERROR, "An unexpected error occurred"),
            Self::Unauthenticated => {
                ("unauthenticated", S::UNAUTHORIZED, "A valid bearer token is required for this request")
            }
            Self::Forbidden => ("forbidden", S::FORBIDDEN, "The caller may not do this"),
            Self::RateLimited => ("rate-limited", S::TOO_MANY_REQUESTS, "Too many requests; slow down"),
            Self::BadGateway => ("bad-gateway", S::BAD_GATEWAY, "An upstream service could not be reached"),
            Self::UpstreamTimeout => {
                ("upstream-timeout", S::GATEWAY_TIMEOUT, "An upstream service did not answer in time")
            }
            Self::CardDeclined => ("card-declined", S::PAYMENT_REQUIRED, "The card was declined"),
        }
    }
}

impl Problem {
    pub fn new(kind: ProblemKind) -> Self {
        let (slug, status, title) = kind.describe();
        Self {
            kind: format!("urn:flotilla:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldViolation>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_retry_after(self, secs: u64) -> Self {
        self.with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn validation(errors: Vec<FieldViolation>) -> Self {
        Self::new(ProblemKind::Validation).with_errors(errors)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::NotFound).with_detail(detail)
    }

    /// A path or query parameter `name` that breaks a rule: 400, with the parameter as the field.
    pub fn invalid_parameter(name: &str, message: &str) -> Self {
        Self::new(ProblemKind::InvalidParameter)
            .with_detail(format!("{name} {message}"))
            .with_errors(vec![FieldViolation::new(name, message)])
    }

    /// A 500 whose cause is logged here, with the request's span, and never sent to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ProblemKind::Internal)
    }

    /// A database failure: 503 with Retry-After when the database is out of reach or the pool is
    /// exhausted (the client may retry), else a 500.
    pub fn database(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(%error, "database unavailable");
                Self::new(ProblemKind::Unavailable).with_retry_after(1)
            }
            other => Self::internal(other),
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The problem responses that read the same on every endpoint, for `utoipa::path`'s
/// `responses(...)`: `responses((status = 200, ...), responses::Unauthenticated, responses::NotAdmin)`.
pub mod responses {
    use super::Problem;

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 401, description = "No valid access token", content_type = "application/problem+json")]
    pub struct Unauthenticated(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 403, description = "The caller is not an admin", content_type = "application/problem+json")]
    pub struct NotAdmin(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 400, description = "A parameter is invalid", content_type = "application/problem+json")]
    pub struct InvalidParameter(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 412, description = "Changed since it was read", content_type = "application/problem+json")]
    pub struct PreconditionFailed(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 428, description = "If-Match is missing", content_type = "application/problem+json")]
    pub struct PreconditionRequired(pub Problem);
}

/// So that handlers can write `?` on their queries.
impl From<sqlx::Error> for Problem {
    fn from(error: sqlx::Error) -> Self {
        Self::database(&error)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| br#"{"status":500}"#.to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_documented_and_every_documented_type_is_a_kind() {
        let table = include_str!("../../../docs/api/problems.md");
        let documented: std::collections::BTreeSet<&str> = table
            .lines()
            .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
            .filter(|slug| !matches!(*slug, "type" | "title" | "status" | "detail" | "errors"))
            .collect();
        let kinds: std::collections::BTreeSet<&str> = ProblemKind::ALL.iter().map(|kind| kind.slug()).collect();
        assert_eq!(documented, kinds, "docs/api/problems.md and ProblemKind::ALL differ");
    }

    #[test]
    fn violations_take_rfc_9457_s_shape() {
        let body = serde_json::to_value(FieldViolation::new("/price/currency", "must be upper case")).unwrap();
        assert_eq!(body, serde_json::json!({"detail": "must be upper case", "pointer": "#/price/currency"}));
        let parameter = serde_json::to_value(FieldViolation::new("limit", "must be at most 100")).unwrap();
        assert_eq!(parameter, serde_json::json!({"detail": "must be at most 100", "parameter": "limit"}));
    }

    #[test]
    fn every_kind_has_a_distinct_slug_and_an_error_status() {
        let kinds = ProblemKind::ALL;
        let slugs: std::collections::BTreeSet<_> = kinds.iter().map(|k| k.slug()).collect();
        assert_eq!(slugs.len(), kinds.len());
        for kind in kinds {
            let status = Problem::new(kind).status();
            assert!(status.is_client_error() || status.is_server_error(), "{kind:?}");
        }
    }

    #[test]
    fn an_exhausted_pool_is_unavailable_not_internal() {
        assert_eq!(Problem::database(&sqlx::Error::PoolTimedOut).status, 503);
        assert_eq!(Problem::database(&sqlx::Error::RowNotFound).status, 500);
    }

    #[test]
    fn renders_as_problem_json_with_retry_after() {
        let response = Problem::new(ProblemKind::Overloaded).with_retry_after(2).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
