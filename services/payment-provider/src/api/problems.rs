//! The processor's errors: our RFC 9457 problem documents with two extension members, as a
//! processor's error objects have them: `code`, which clients branch on (`card_declined`,
//! `payment_intent_unexpected_state`, ...), and the `payment_intent` the error concerns.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::idempotency::StoredResponse;
use flotilla_chassis::problem::CONTENT_TYPE;
use flotilla_chassis::{Problem, ProblemKind};
use serde::Serialize;
use utoipa::ToSchema;

use super::intents::IntentBody;
use crate::domain::card::DeclineCode;
use crate::domain::intent::{Intent, Refusal};

/// A problem document with the processor's `code` and, where one is concerned, its intent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// The processor's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "card_declined")]
    pub code: Option<String>,
    /// The payment intent as the error left it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<IntentBody>,
    #[serde(skip)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ProviderProblem {
    fn new(problem: Problem, code: &str) -> Self {
        Self { problem, code: Some(code.to_owned()), payment_intent: None, headers: Vec::new() }
    }

    fn concerning(mut self, intent: &Intent) -> Self {
        self.payment_intent = Some(IntentBody::from(intent));
        self
    }

    /// 402: the issuer declined the card; the intent was created and says so in `last_error`.
    pub fn declined(code: DeclineCode, intent: &Intent) -> Self {
        let problem =
            Problem::new(ProblemKind::CardDeclined).with_detail(format!("the card was declined: {}", code.as_str()));
        Self::new(problem, code.as_str()).concerning(intent)
    }

    /// 409: the intent's state does not allow the operation.
    pub fn refused(refusal: Refusal, operation: &str, intent: &Intent) -> Self {
        let problem = Problem::new(ProblemKind::Conflict).with_detail(refusal.explain(operation));
        Self::new(problem, refusal.code()).concerning(intent)
    }

    /// 404: no intent has this id.
    pub fn missing(id: &str) -> Self {
        Self::new(Problem::not_found(format!("no payment intent has id {id}")), "resource_missing")
    }

    /// 500 from the `error_rate` knob: nothing was done.
    pub fn simulated_error() -> Self {
        let problem =
            Problem::new(ProblemKind::Internal).with_detail("simulated failure (error_rate); nothing was done");
        Self::new(problem, "simulated_error")
    }

    /// 503 from the `outage` knob: nothing was done.
    pub fn outage() -> Self {
        let problem = Problem::new(ProblemKind::Unavailable).with_detail("simulated outage; nothing was done");
        let mut outage = Self::new(problem, "simulated_outage");
        outage.headers.push((header::RETRY_AFTER, HeaderValue::from(1)));
        outage
    }

    pub fn status(&self) -> StatusCode {
        self.problem.status()
    }

    /// What an `Idempotency-Key` replays: this problem, with its media type.
    pub fn stored(&self) -> StoredResponse {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        for (name, value) in &self.headers {
            headers.insert(name, value.clone());
        }
        StoredResponse::json(self.status(), self, &headers)
    }
}

impl IntoResponse for ProviderProblem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| br#"{"status":500}"#.to_vec());
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

/// The problem responses every simulated endpoint shares, for `utoipa::path`'s `responses(...)`.
// Only the OpenAPI document uses these types; their fields name the schema and are never read.
#[allow(dead_code)]
pub mod responses {
    use super::ProviderProblem;
    use flotilla_chassis::Problem;

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 401, description = "No valid API key", content_type = "application/problem+json")]
    pub struct NoApiKey(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(
        status = 500,
        description = "Simulated failure (`error_rate`, code `simulated_error`); nothing was done",
        content_type = "application/problem+json"
    )]
    pub struct SimulatedError(pub ProviderProblem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(
        status = 503,
        description = "Simulated outage (`outage`, code `simulated_outage`); nothing was done",
        content_type = "application/problem+json"
    )]
    pub struct SimulatedOutage(pub ProviderProblem);
}
