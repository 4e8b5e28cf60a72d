//! Who is calling, as proven by a verified token, and the checks handlers make on it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{Rejection, TokenVerifier};
use crate::{Problem, ProblemKind};

/// The roles Flotilla's own identity service grants.
pub mod roles {
    pub const ADMIN: &str = "admin";
    pub const CUSTOMER: &str = "customer";
}

/// Tokens beyond this size are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The authenticated caller: a person (`sub` is their user id) or a service account (`sub` is
/// its client id, and `client_id` says the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub scopes: BTreeSet<String>,
    pub roles: BTreeSet<String>,
    pub client_id: Option<String>,
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// 403 unless the caller holds `role`.
    pub fn require_role(&self, role: &str) -> Result<(), Problem> {
        if self.has_role(role) {
            return Ok(());
        }
        Err(Problem::new(ProblemKind::Forbidden).with_detail(format!("this operation requires the {role} role")))
    }

    /// 403 unless the token was granted `scope` (RFC 6750 `insufficient_scope`).
    pub fn require_scope(&self, scope: &str) -> Result<(), Problem> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        let challenge = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
        Err(Problem::new(ProblemKind::Forbidden)
            .with_detail(format!("this operation requires the {scope} scope"))
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_str(&challenge).unwrap_or(BEARER)))
    }

    /// Whether the resource owned by `owner` (a subject) is the caller's own.
    pub fn owns(&self, owner: &str) -> bool {
        self.subject == owner
    }

    /// 403 unless the resource owned by `owner` is the caller's own, or the caller holds
    /// `override_role` (an administrator looking at a customer's order).
    pub fn require_owner(&self, owner: &str, override_role: Option<&str>) -> Result<(), Problem> {
        if self.owns(owner) || override_role.is_some_and(|role| self.has_role(role)) {
            return Ok(());
        }
        Err(Problem::new(ProblemKind::Forbidden).with_detail("this resource belongs to someone else"))
    }
}

/// An administrator: the extractor for admin operations. It decides before the body is read, so
/// a caller without the role learns nothing about what a valid request would look like.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = <Caller as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        caller.require_role(roles::ADMIN)?;
        Ok(Self(caller))
    }
}

/// Middleware for a group of routes that only administrators may use (`route_layer` it).
pub async fn admin_only(_admin: Admin, request: Request, next: Next) -> Response {
    next.run(request).await
}

const BEARER: HeaderValue = HeaderValue::from_static(r#"Bearer realm="flotilla""#);

/// The 401 (or 503) for a request whose token was not accepted. The reason is logged for
/// operators and given to the caller in general terms only.
pub(crate) fn rejection_problem(rejection: &Rejection) -> Problem {
    match rejection {
        Rejection::Missing => Problem::new(ProblemKind::Unauthenticated)
            .with_detail("send an access token in the Authorization header: Bearer <token>")
            .with_header(header::WWW_AUTHENTICATE, BEARER),
        Rejection::IssuerUnavailable(_) => Problem::new(ProblemKind::Unavailable)
            .with_detail("the token issuer's keys cannot be fetched just now")
            .with_retry_after(1),
        other => {
            let description = match other {
                Rejection::Expired => "the access token expired",
                Rejection::NotYetValid => "the access token is not valid yet",
                _ => "the access token is not valid here",
            };
            let challenge =
                format!(r#"Bearer realm="flotilla", error="invalid_token", error_description="{description}""#);
            Problem::new(ProblemKind::Unauthenticated)
                .with_detail(description)
                .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_str(&challenge).unwrap_or(BEARER))
        }
    }
}

/// The token in `Authorization: Bearer <token>`, if the header is there at all.
fn bearer(parts: &Parts) -> Result<Option<&str>, Rejection> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = |why: &str| Rejection::Malformed(why.to_owned());
    let value = value.to_str().map_err(|_| malformed("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| malformed("the Authorization header has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed("the Authorization scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("the bearer token is empty or too long"));
    }
    Ok(Some(token))
}

async fn authenticate(parts: &Parts) -> Result<Option<Caller>, Problem> {
    let token = match bearer(parts) {
        Ok(Some(token)) => token,
        Ok(None) => return Ok(None),
        Err(rejection) => {
            tracing::info!(reason = %rejection, "bearer token rejected");
            return Err(rejection_problem(&rejection));
        }
    };
    let verifier = parts
        .extensions
        .get::<Arc<TokenVerifier>>()
        .ok_or_else(|| Problem::internal(&"no token verifier is installed for this router"))?;
    match verifier.verify(token).await {
        Ok(caller) => {
            tracing::Span::current().record("subject", caller.subject.as_str());
            Ok(Some(caller))
        }
        Err(rejection) => {
            tracing::info!(reason = %rejection, "bearer token rejected");
            Err(rejection_problem(&rejection))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        authenticate(parts).await?.ok_or_else(|| rejection_problem(&Rejection::Missing))
    }
}

/// `Option<Caller>`: anonymous when there is no Authorization header, but a token that is
/// present and bad is still a 401, never silently anonymous.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        authenticate(parts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str, roles: &[&str]) -> Caller {
        Caller {
            subject: subject.into(),
            scopes: BTreeSet::new(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            client_id: None,
        }
    }

    #[test]
    fn ownership_and_roles_decide_between_allowed_and_403() {
        let alice = caller("alice", &[roles::CUSTOMER]);
        let admin = caller("root", &[roles::ADMIN]);
        assert!(alice.require_owner("alice", Some(roles::ADMIN)).is_ok());
        assert_eq!(alice.require_owner("bob", Some(roles::ADMIN)).unwrap_err().status, 403);
        assert!(admin.require_owner("bob", Some(roles::ADMIN)).is_ok());
        assert_eq!(admin.require_owner("bob", None).unwrap_err().status, 403);
        assert_eq!(alice.require_role(roles::ADMIN).unwrap_err().status, 403);
        assert!(admin.require_role(roles::ADMIN).is_ok());
        assert_eq!(alice.require_scope("catalog.write").unwrap_err().status, 403);
    }

    #[test]
    fn a_missing_token_is_a_bare_challenge_and_a_bad_one_says_invalid_token() {
        use axum::response::IntoResponse;
        let missing = rejection_problem(&Rejection::Missing).into_response();
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="flotilla""#);
        let expired = rejection_problem(&Rejection::Expired).into_response();
        assert!(expired.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains(r#"error="invalid_token""#));
        assert_eq!(rejection_problem(&Rejection::IssuerUnavailable("down".into())).status, 503);
    }

    #[test]
    fn only_a_bearer_authorization_header_yields_a_token() {
        let parts = |value: &str| {
            let (parts, ()) =
                axum::http::Request::builder().header(header::AUTHORIZATION, value).body(()).unwrap().into_parts();
            parts
        };
        assert_eq!(bearer(&parts("Bearer abc")).unwrap(), Some("abc"));
        assert_eq!(bearer(&parts("bearer abc")).unwrap(), Some("abc"));
        assert!(bearer(&parts("Basic abc")).is_err());
        assert!(bearer(&parts("Bearer ")).is_err());
        assert!(bearer(&parts(&format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1)))).is_err());
    }
}
