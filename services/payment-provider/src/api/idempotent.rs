//! Idempotency as processors offer it: every POST carries an `Idempotency-Key`, scoped to the
//! account and the endpoint. The key is claimed in the same write transaction as the work and the
//! answer remembered in it, so that concurrent requests with one key act once, and a retry gets
//! the first answer again: the same status and body, a decline or a refusal included.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::Problem;
use flotilla_chassis::db::timestamp;
use flotilla_chassis::idempotency::{self, Claim, IdempotencyKey, StoredResponse};
use serde::Serialize;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use super::AppState;
use super::auth::Account;
use super::problems::ProviderProblem;

/// One POST's use of its key.
pub struct Idempotent<'a> {
    state: &'a AppState,
    scope: String,
    key: IdempotencyKey,
    fingerprint: String,
}

/// What claiming found: a transaction to do the work in, or the answer given the first time.
pub enum Begun {
    Fresh(Transaction<'static, Any>),
    Replay(Response),
}

/// What a POST answers, and whether it changed anything (what `act_then_timeout` delays).
pub struct Outcome {
    stored: StoredResponse,
    acted: bool,
}

impl Outcome {
    pub fn acted(body: &impl Serialize) -> Self {
        Self { stored: StoredResponse::json(StatusCode::OK, body, &HeaderMap::new()), acted: true }
    }

    /// An error that is the request's result, remembered like a success: a decline (which
    /// created an intent) or a refusal by the intent's state.
    pub fn problem(problem: &ProviderProblem, acted: bool) -> Self {
        Self { stored: problem.stored(), acted }
    }
}

impl<'a> Idempotent<'a> {
    /// `request` is what the key is bound to: the same key with anything else is refused.
    pub fn new(
        state: &'a AppState,
        account: &Account,
        endpoint: &str,
        key: IdempotencyKey,
        request: &impl Serialize,
    ) -> Self {
        Self { state, scope: format!("{endpoint} {}", account.0), key, fingerprint: idempotency::fingerprint(request) }
    }

    pub async fn begin(&self) -> Result<Begun, Problem> {
        let mut tx = self.state.db.begin_write().await?;
        let now = timestamp(OffsetDateTime::now_utc());
        match idempotency::claim(&mut tx, &self.scope, &self.key, &self.fingerprint, &now).await? {
            Claim::Fresh => Ok(Begun::Fresh(tx)),
            // Dropping the transaction rolls back nothing: a replay wrote nothing.
            Claim::Replay(stored) => Ok(Begun::Replay(stored.into_response())),
        }
    }

    /// Remembers the answer with the work, commits both, then answers (late, when the
    /// `act_then_timeout` knob says so: the provider acted, the client may not hear it).
    pub async fn finish(self, mut tx: Transaction<'static, Any>, outcome: Outcome) -> Result<Response, Problem> {
        idempotency::remember(&mut tx, &self.scope, &self.key, &outcome.stored).await?;
        tx.commit().await?;
        if outcome.acted
            && let Some(hang) = self.state.knobs.take_hang()
        {
            tracing::info!(hang_ms = hang.as_millis(), "acted; answering late (act_then_timeout)");
            tokio::time::sleep(hang).await;
        }
        Ok(render(outcome.stored))
    }
}

/// The first answer, as its replays will read (less `Idempotent-Replayed`).
fn render(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], stored.body).into_response();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
