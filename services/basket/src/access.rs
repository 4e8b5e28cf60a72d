//! Who may read and change a basket. A customer reads and changes their own; an administrator
//! reads anyone's; a service account (the ordering service checking a basket out) reads anyone's
//! with the `basket.read` scope. Decided by extractors, before a request body is read, so that a
//! refused caller learns nothing about what a valid request would look like.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use flotilla_chassis::auth::{Caller, roles};
use flotilla_chassis::extract::Path;
use flotilla_chassis::{FieldViolation, Problem, ProblemKind};

/// The scope a service account needs to read baskets.
pub const READ_SCOPE: &str = "basket.read";

/// The longest customer id (a token subject) accepted in a path.
const MAX_CUSTOMER_ID: usize = 255;

/// A caller allowed to read the basket of `customer_id`.
#[derive(Debug, Clone)]
pub struct Reader {
    pub customer_id: String,
}

/// A caller allowed to change the basket of `customer_id`: its customer.
#[derive(Debug, Clone)]
pub struct Owner {
    pub caller: Caller,
    pub customer_id: String,
}

/// A client-credentials token: its subject is the client itself. A person's token names the client
/// they signed in through in `client_id` too, so `client_id` being set is not enough.
pub fn is_service_account(caller: &Caller) -> bool {
    caller.client_id.as_deref() == Some(caller.subject.as_str())
}

pub fn may_read(caller: &Caller, customer_id: &str) -> Result<(), Problem> {
    if caller.has_role(roles::ADMIN) {
        return Ok(());
    }
    if is_service_account(caller) {
        return caller.require_scope(READ_SCOPE);
    }
    if caller.owns(customer_id) {
        return Ok(());
    }
    Err(forbidden("this basket belongs to someone else"))
}

pub fn may_change(caller: &Caller, customer_id: &str) -> Result<(), Problem> {
    // A service account never owns a basket, even one under its own name: baskets are people's.
    if is_service_account(caller) {
        return Err(forbidden("a service account may read baskets but not change them"));
    }
    if caller.owns(customer_id) {
        return Ok(());
    }
    Err(forbidden("only its customer may change a basket"))
}

fn forbidden(detail: &str) -> Problem {
    Problem::new(ProblemKind::Forbidden).with_detail(detail)
}

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = <Caller as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let customer_id = customer_id(parts, state).await?;
        may_read(&caller, &customer_id)?;
        Ok(Self { customer_id })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Owner {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = <Caller as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let customer_id = customer_id(parts, state).await?;
        may_change(&caller, &customer_id)?;
        Ok(Self { caller, customer_id })
    }
}

/// The `{customer_id}` of the path. Any subject an issuer may use is accepted, within bounds.
async fn customer_id<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, Problem> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state).await?;
    let id = params.get("customer_id").cloned().unwrap_or_default();
    if id.is_empty() || id.chars().count() > MAX_CUSTOMER_ID || id.chars().any(char::is_control) {
        let message = format!("must be 1 to {MAX_CUSTOMER_ID} characters without control characters");
        return Err(Problem::new(ProblemKind::InvalidParameter)
            .with_detail(format!("customer_id {message}"))
            .with_errors(vec![FieldViolation::new("customer_id", message)]));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn caller(subject: &str, roles: &[&str], scopes: &[&str], client_id: &str) -> Caller {
        let set = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        Caller { subject: subject.into(), scopes: set(scopes), roles: set(roles), client_id: Some(client_id.into()) }
    }

    #[test]
    fn customers_read_and_change_only_their_own_basket() {
        let alice = caller("alice", &[roles::CUSTOMER], &["openid"], "web");
        assert!(may_read(&alice, "alice").is_ok() && may_change(&alice, "alice").is_ok());
        assert_eq!(may_read(&alice, "bob").unwrap_err().status, 403);
        assert_eq!(may_change(&alice, "bob").unwrap_err().status, 403);
        let scoped = caller("alice", &[roles::CUSTOMER], &[READ_SCOPE], "web");
        assert_eq!(may_read(&scoped, "bob").unwrap_err().status, 403, "the scope is for service accounts");
    }

    #[test]
    fn administrators_read_any_basket_and_change_only_their_own() {
        let admin = caller("root", &[roles::ADMIN], &[], "web");
        assert!(may_read(&admin, "bob").is_ok());
        assert_eq!(may_change(&admin, "bob").unwrap_err().status, 403);
        assert!(may_change(&admin, "root").is_ok());
    }

    #[test]
    fn service_accounts_read_with_the_scope_and_never_change() {
        let ordering = caller("ordering", &[], &[READ_SCOPE], "ordering");
        assert!(is_service_account(&ordering));
        assert!(may_read(&ordering, "bob").is_ok());
        assert_eq!(may_change(&ordering, "bob").unwrap_err().status, 403);
        assert_eq!(may_change(&ordering, "ordering").unwrap_err().status, 403);
        let unscoped = caller("ordering", &[], &["openid"], "ordering");
        assert_eq!(may_read(&unscoped, "bob").unwrap_err().status, 403);
        assert_eq!(may_read(&unscoped, "ordering").unwrap_err().status, 403, "not even under its own name");
    }
}
