//! `/v1/payment_intents`: authorize a card for an amount, then capture or cancel; look intents up
//! by id or by the merchant's reference.

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flotilla_chassis::db::timestamp;
use flotilla_chassis::extract::{Json, Path, Query};
use flotilla_chassis::idempotency::IdempotencyKey;
use flotilla_chassis::{FieldViolation, Problem, ProblemKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Ref, Schema, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Account;
use super::body::OptionalJson;
use super::idempotent::{Begun, Idempotent, Outcome};
use super::problems::{ProviderProblem, responses};
use super::{AppState, page_size};
use crate::domain::Violation;
use crate::domain::card::CardNumber;
use crate::domain::intent::{Intent, NewIntent, Refusal};
use crate::domain::request::{self, Amount};
use crate::store;

/// A payment intent as the processor shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntentBody {
    /// The intent's id: `pi_` and 32 hexadecimal digits.
    #[schema(example = "pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5")]
    pub id: String,
    /// `requires_capture` (authorized), `succeeded` (captured), `canceled`, or
    /// `requires_payment_method` (the card was declined; see `last_error`).
    #[schema(example = "requires_capture")]
    pub status: String,
    /// In minor units of `currency`.
    #[schema(example = 2500)]
    pub amount: i64,
    /// The ISO 4217 code, upper case.
    #[schema(example = "EUR")]
    pub currency: String,
    /// What can still be captured, in minor units: all of `amount` while `requires_capture`,
    /// 0 otherwise.
    pub amount_capturable: i64,
    /// What was captured, in minor units; 0 until the intent `succeeded`.
    pub amount_captured: i64,
    /// What was refunded of the captured amount so far, in minor units.
    pub amount_refunded: i64,
    /// The merchant's order id, as sent.
    #[schema(example = "order-42")]
    pub reference: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(schema_with = last_error)]
    pub last_error: Option<LastError>,
}

/// The field's own schema: a nullable reference whose description the derive would put inside
/// the reference, where a reader of the field does not look.
fn last_error() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(Ref::from_schema_name("LastError"))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some("Why the card was declined; null unless it was."))
            .build(),
    )
}

/// Why the issuer declined the card.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastError {
    /// `card_declined` or `insufficient_funds`.
    #[schema(example = "card_declined")]
    pub code: String,
}

impl From<&Intent> for IntentBody {
    fn from(intent: &Intent) -> Self {
        Self {
            id: intent.id.clone(),
            status: intent.status.as_str().to_owned(),
            amount: intent.amount,
            currency: intent.currency.clone(),
            amount_capturable: intent.amount_capturable,
            amount_captured: intent.amount_captured,
            amount_refunded: intent.amount_refunded,
            reference: intent.reference.clone(),
            created_at: timestamp(intent.created_at),
            last_error: intent.last_error.map(|code| LastError { code: code.as_str().to_owned() }),
        }
    }
}

/// Only manual capture is simulated: authorize now, capture (or cancel) later.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    Manual,
}

/// What a merchant asks to be authorized.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntent {
    /// Positive, in minor units of `currency`.
    #[schema(example = 2500)]
    pub amount: i64,
    /// ISO 4217, upper case.
    #[schema(example = "EUR")]
    pub currency: String,
    /// 16 digits, Luhn-valid; the test cards decide the outcome.
    #[schema(example = "4242424242424242")]
    pub card_number: String,
    /// The merchant's order id, 1 to 100 characters: how a merchant finds the intent again.
    #[schema(example = "order-42")]
    pub reference: String,
    pub capture_method: CaptureMethod,
}

/// How much of the authorization to capture.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// At most what is authorized; all of it when left out. The rest is released.
    pub amount_to_capture: Option<i64>,
}

/// A cancellation takes no options: the body, when sent, is an empty object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {}

/// The intents made for a merchant reference.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = examples::list)]
pub struct IntentList {
    /// Oldest first.
    pub data: Vec<IntentBody>,
    /// More match than `limit` returned.
    pub has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListIntents {
    /// The merchant reference the intents were made for, exactly.
    pub reference: String,
    /// How many to return, 1 to 100 (default 10).
    pub limit: Option<u32>,
}

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::now_v7().simple())
}

pub fn invalid(violations: Vec<Violation>) -> Problem {
    Problem::validation(violations.into_iter().map(|v| FieldViolation::new(v.field, v.message)).collect())
}

fn checked(request: &CreateIntent) -> Result<(NewIntent, CardNumber), Problem> {
    let amount = Amount::positive("/amount", request.amount);
    let currency = request::currency(&request.currency);
    let reference = request::reference(&request.reference);
    let card = CardNumber::parse(&request.card_number);
    match (amount, currency, reference, card) {
        (Ok(amount), Ok(currency), Ok(reference), Ok(card)) => {
            Ok((NewIntent { amount, currency: currency.to_owned(), reference: reference.to_owned() }, card))
        }
        (amount, currency, reference, card) => {
            Err(invalid([amount.err(), currency.err(), reference.err(), card.err()].into_iter().flatten().collect()))
        }
    }
}

pub(super) const IDEMPOTENCY_KEY: &str =
    "Required on every POST: a retry with the same key and body gets the first answer";

/// Authorize a card for an amount. A declined card is a 402 whose `payment_intent` is the intent
/// created, in `requires_payment_method` with `last_error`.
#[utoipa::path(post, path = "/v1/payment_intents", operation_id = "create_payment_intent", tag = "payment-intents", request_body = CreateIntent,
    params(("Idempotency-Key" = String, Header, description = IDEMPOTENCY_KEY)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Authorized: `requires_capture`", body = IntentBody, example = json!(examples::authorized())),
        (status = 400, description = "No Idempotency-Key, or a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        responses::NoApiKey,
        (status = 402, description = "Declined (`card_declined`, `insufficient_funds`)", body = ProviderProblem, content_type = "application/problem+json"),
        (status = 422, description = "Not valid, or the key was used with another request", body = Problem, content_type = "application/problem+json"),
        responses::SimulatedError,
        responses::SimulatedOutage,
    ))]
pub async fn create(
    Extension(account): Extension<Account>,
    State(state): State<AppState>,
    key: IdempotencyKey,
    Json(request): Json<CreateIntent>,
) -> Result<Response, Problem> {
    let (new, card) = checked(&request)?;
    // The key is bound to the whole request, card number included: the same key with another card
    // is another request.
    let idempotent = Idempotent::new(&state, &account, "POST /v1/payment_intents", key, &request);
    let mut tx = match idempotent.begin().await? {
        Begun::Fresh(tx) => tx,
        Begun::Replay(response) => return Ok(response),
    };
    let intent = Intent::authorize(new_id("pi"), new, card.outcome(), OffsetDateTime::now_utc());
    store::insert_intent(&mut tx, &intent).await?;
    tracing::info!(payment_intent = %intent.id, status = intent.status.as_str(), "payment intent created");
    let outcome = match intent.last_error {
        None => Outcome::acted(&IntentBody::from(&intent)),
        Some(code) => Outcome::problem(&ProviderProblem::declined(code, &intent), true),
    };
    idempotent.finish(tx, outcome).await
}

/// Retrieve a payment intent.
#[utoipa::path(get, path = "/v1/payment_intents/{id}", tag = "payment-intents",
    params(("id" = String, Path, description = "The intent's id, `pi_...`")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The intent", body = IntentBody, example = json!(examples::captured())),
        responses::NoApiKey,
        (status = 404, description = "No such intent (`resource_missing`)", body = ProviderProblem, content_type = "application/problem+json"),
        responses::SimulatedError,
        responses::SimulatedOutage,
    ))]
pub async fn retrieve(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, Problem> {
    if !request::is_id("pi", &id) {
        return Ok(ProviderProblem::missing(&id).into_response());
    }
    Ok(match store::get_intent(state.db.pool(), &id).await? {
        Some(intent) => Json(IntentBody::from(&intent)).into_response(),
        None => ProviderProblem::missing(&id).into_response(),
    })
}

/// The intents made for a merchant reference, oldest first: how a merchant whose create went
/// unanswered learns whether the provider acted.
#[utoipa::path(get, path = "/v1/payment_intents", operation_id = "list_payment_intents", tag = "payment-intents", params(ListIntents),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The intents for the reference", body = IntentList),
        (status = 400, description = "No reference, or a bad limit", body = Problem, content_type = "application/problem+json"),
        responses::NoApiKey,
        responses::SimulatedError,
        responses::SimulatedOutage,
    ))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListIntents>,
) -> Result<Json<IntentList>, Problem> {
    let limit = page_size(query.limit)?;
    // A reference no intent can have is a mistake worth saying, not an empty list.
    request::reference(&query.reference).map_err(|violation| {
        Problem::new(ProblemKind::InvalidParameter).with_detail(format!("reference {}", violation.message))
    })?;
    let mut intents = store::intents_by_reference(state.db.pool(), &query.reference, limit + 1).await?;
    let has_more = intents.len() as i64 > limit;
    intents.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Json(IntentList { data: intents.iter().map(IntentBody::from).collect(), has_more }))
}

/// Capture an authorized intent, all of it or `amount_to_capture`; the rest is released.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/capture", tag = "payment-intents",
    request_body(content = Option<CaptureRequest>, description = "Optional"),
    params(("id" = String, Path, description = "The intent's id"), ("Idempotency-Key" = String, Header, description = IDEMPOTENCY_KEY)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Captured: `succeeded`", body = IntentBody, example = json!(examples::captured())),
        (status = 400, description = "No Idempotency-Key, or a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        responses::NoApiKey,
        (status = 404, description = "No such intent (`resource_missing`)", body = ProviderProblem, content_type = "application/problem+json"),
        (status = 409, description = "Not capturable (`payment_intent_unexpected_state`), or more than authorized (`amount_too_large`)", body = ProviderProblem, content_type = "application/problem+json"),
        (status = 422, description = "Not valid, or the key was used with another request", body = Problem, content_type = "application/problem+json"),
        responses::SimulatedError,
        responses::SimulatedOutage,
    ))]
pub async fn capture(
    Extension(account): Extension<Account>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: IdempotencyKey,
    OptionalJson(request): OptionalJson<CaptureRequest>,
) -> Result<Response, Problem> {
    let amount = request
        .amount_to_capture
        .map(|amount| Amount::positive("/amount_to_capture", amount))
        .transpose()
        .map_err(|violation| invalid(vec![violation]))?;
    let idempotent = Idempotent::new(&state, &account, "POST /v1/payment_intents/{id}/capture", key, &(&id, &request));
    transition(idempotent, &id, "capture", |intent| intent.capture(amount)).await
}

/// Cancel an authorized intent, releasing the authorization.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/cancel", tag = "payment-intents",
    request_body(content = Option<CancelRequest>, description = "Optional; empty"),
    params(("id" = String, Path, description = "The intent's id"), ("Idempotency-Key" = String, Header, description = IDEMPOTENCY_KEY)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Canceled", body = IntentBody, example = json!(examples::canceled())),
        (status = 400, description = "No Idempotency-Key, or a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        responses::NoApiKey,
        (status = 404, description = "No such intent (`resource_missing`)", body = ProviderProblem, content_type = "application/problem+json"),
        (status = 409, description = "Not `requires_capture` (`payment_intent_unexpected_state`)", body = ProviderProblem, content_type = "application/problem+json"),
        (status = 422, description = "Not valid, or the key was used with another request", body = Problem, content_type = "application/problem+json"),
        responses::SimulatedError,
        responses::SimulatedOutage,
    ))]
pub async fn cancel(
    Extension(account): Extension<Account>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: IdempotencyKey,
    OptionalJson(request): OptionalJson<CancelRequest>,
) -> Result<Response, Problem> {
    let idempotent = Idempotent::new(&state, &account, "POST /v1/payment_intents/{id}/cancel", key, &(&id, &request));
    transition(idempotent, &id, "cancel", Intent::cancel).await
}

/// Applies `change` to the intent `id` under its key: the new intent, or the refusal with the
/// intent as it stays, is the remembered answer. An unknown intent is answered and not remembered.
async fn transition(
    idempotent: Idempotent<'_>,
    id: &str,
    operation: &str,
    change: impl FnOnce(&Intent) -> Result<Intent, Refusal>,
) -> Result<Response, Problem> {
    // An id of another shape names nothing (and a NUL byte in it would upset PostgreSQL).
    if !request::is_id("pi", id) {
        return Ok(ProviderProblem::missing(id).into_response());
    }
    let mut tx = match idempotent.begin().await? {
        Begun::Fresh(tx) => tx,
        Begun::Replay(response) => return Ok(response),
    };
    let Some(intent) = store::lock_intent(&mut tx, id).await? else {
        return Ok(ProviderProblem::missing(id).into_response());
    };
    let outcome = match change(&intent) {
        Ok(changed) => {
            store::update_intent(&mut tx, &changed, OffsetDateTime::now_utc()).await?;
            tracing::info!(payment_intent = %id, operation, status = changed.status.as_str(), "payment intent changed");
            Outcome::acted(&IntentBody::from(&changed))
        }
        Err(refusal) => Outcome::problem(&ProviderProblem::refused(refusal, operation, &intent), false),
    };
    idempotent.finish(tx, outcome).await
}

/// The documents' examples: an order's 94.98 EUR authorized on a test card, then captured or
/// canceled. The merchant's reference is the order's id, as the payments service sends it.
pub(super) mod examples {
    use super::{IntentBody, IntentList};

    pub const INTENT: &str = "pi_0195b7f08c6d7a3e9f1b2c4d6e8a0b13";

    pub fn authorized() -> IntentBody {
        IntentBody {
            id: INTENT.into(),
            status: "requires_capture".into(),
            amount: 9498,
            currency: "EUR".into(),
            amount_capturable: 9498,
            amount_captured: 0,
            amount_refunded: 0,
            reference: "0195b7f0-8a3c-7b21-a4d5-3e9c7f1b2a60".into(),
            created_at: "2025-03-14T09:26:53.912466Z".into(),
            last_error: None,
        }
    }

    pub fn captured() -> IntentBody {
        IntentBody { status: "succeeded".into(), amount_capturable: 0, amount_captured: 9498, ..authorized() }
    }

    pub fn canceled() -> IntentBody {
        IntentBody { status: "canceled".into(), amount_capturable: 0, ..authorized() }
    }

    pub fn list() -> IntentList {
        IntentList { data: vec![authorized()], has_more: false }
    }
}
