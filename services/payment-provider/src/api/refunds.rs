//! `/v1/refunds`: give back part or all of what an intent captured, never more in total.

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flotilla_chassis::db::timestamp;
use flotilla_chassis::extract::{Json, Query};
use flotilla_chassis::idempotency::IdempotencyKey;
use flotilla_chassis::{Problem, ProblemKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::Account;
use super::idempotent::{Begun, Idempotent, Outcome};
use super::intents::{IDEMPOTENCY_KEY, invalid, new_id};
use super::problems::{ProviderProblem, responses};
use super::{AppState, page_size};
use crate::domain::request::{self, Amount};
use crate::store::{self, Refund};

/// What to refund.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// The succeeded intent to refund.
    #[schema(example = "pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5")]
    pub payment_intent: String,
    /// Positive, at most what is captured and not yet refunded; all of that when left out.
    pub amount: Option<i64>,
}

/// Money given back to the card from what an intent captured.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = example)]
pub struct RefundBody {
    /// The refund's id: `re_` and 32 hexadecimal digits.
    #[schema(example = "re_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5")]
    pub id: String,
    /// The intent refunded.
    #[schema(example = "pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5")]
    pub payment_intent: String,
    /// What went back to the card, in minor units of the intent's currency.
    #[schema(example = 2500)]
    pub amount: i64,
    /// Always `succeeded`: the simulator settles refunds at once.
    #[schema(example = "succeeded")]
    pub status: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Refund> for RefundBody {
    fn from(refund: &Refund) -> Self {
        Self {
            id: refund.id.clone(),
            payment_intent: refund.payment_intent.clone(),
            amount: refund.amount,
            status: "succeeded".into(),
            created_at: timestamp(refund.created_at),
        }
    }
}

/// The refunds of an intent.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = list_example)]
pub struct RefundList {
    /// Oldest first.
    pub data: Vec<RefundBody>,
    /// More exist than `limit` returned.
    pub has_more: bool,
}

/// A refund of the whole 94.98 EUR captured of an order's payment.
fn example() -> RefundBody {
    RefundBody {
        id: "re_0195b7f42e1a7c6b8d3f5a9e0b2c4d61".into(),
        payment_intent: super::intents::examples::INTENT.into(),
        amount: 9498,
        status: "succeeded".into(),
        created_at: "2025-03-14T09:31:07.428153Z".into(),
    }
}

fn list_example() -> RefundList {
    RefundList { data: vec![example()], has_more: false }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRefunds {
    /// The intent whose refunds to list.
    pub payment_intent: String,
    /// How many to return, 1 to 100 (default 10).
    pub limit: Option<u32>,
}

/// Refund a succeeded intent, all that is left or `amount`.
#[utoipa::path(post, path = "/v1/refunds", operation_id = "create_refund", tag = "refunds", request_body = CreateRefund,
    params(("Idempotency-Key" = String, Header, description = IDEMPOTENCY_KEY)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Refunded", body = RefundBody),
        (status = 400, description = "No Idempotency-Key, or a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        responses::NoApiKey,
        (status = 404, description = "No such intent (`resource_missing`)", body = ProviderProblem, content_type = "application/problem+json"),
        (status = 409, description = "Not `succeeded` (`payment_intent_unexpected_state`), more than is left (`amount_too_large`), or nothing left (`charge_already_refunded`)", body = ProviderProblem, content_type = "application/problem+json"),
        (status = 422, description = "Not valid, or the key was used with another request", body = Problem, content_type = "application/problem+json"),
        responses::SimulatedError,
        responses::SimulatedOutage,
    ))]
pub async fn create(
    Extension(account): Extension<Account>,
    State(state): State<AppState>,
    key: IdempotencyKey,
    Json(request): Json<CreateRefund>,
) -> Result<Response, Problem> {
    let amount = request.amount.map(|a| Amount::positive("/amount", a)).transpose().map_err(|v| invalid(vec![v]))?;
    if !request::is_id("pi", &request.payment_intent) {
        return Ok(ProviderProblem::missing(&request.payment_intent).into_response());
    }
    let idempotent = Idempotent::new(&state, &account, "POST /v1/refunds", key, &request);
    let mut tx = match idempotent.begin().await? {
        Begun::Fresh(tx) => tx,
        Begun::Replay(response) => return Ok(response),
    };
    let Some(intent) = store::lock_intent(&mut tx, &request.payment_intent).await? else {
        return Ok(ProviderProblem::missing(&request.payment_intent).into_response());
    };
    let outcome = match intent.refund(amount) {
        Ok((refunded, amount)) => {
            let now = OffsetDateTime::now_utc();
            let refund = Refund { id: new_id("re"), payment_intent: intent.id.clone(), amount, created_at: now };
            store::insert_refund(&mut tx, &refund).await?;
            store::update_intent(&mut tx, &refunded, now).await?;
            tracing::info!(payment_intent = %intent.id, refund = %refund.id, amount, "refunded");
            Outcome::acted(&RefundBody::from(&refund))
        }
        Err(refusal) => Outcome::problem(&ProviderProblem::refused(refusal, "refund", &intent), false),
    };
    idempotent.finish(tx, outcome).await
}

/// The refunds of an intent, oldest first.
#[utoipa::path(get, path = "/v1/refunds", operation_id = "list_refunds", tag = "refunds", params(ListRefunds),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The intent's refunds", body = RefundList),
        (status = 400, description = "No payment_intent, or a bad limit", body = Problem, content_type = "application/problem+json"),
        responses::NoApiKey,
        responses::SimulatedError,
        responses::SimulatedOutage,
    ))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListRefunds>,
) -> Result<Json<RefundList>, Problem> {
    let limit = page_size(query.limit)?;
    if !request::is_id("pi", &query.payment_intent) {
        return Err(
            Problem::new(ProblemKind::InvalidParameter).with_detail("payment_intent is not a payment intent id")
        );
    }
    let mut refunds = store::refunds_of(state.db.pool(), &query.payment_intent, limit + 1).await?;
    let has_more = refunds.len() as i64 > limit;
    refunds.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Json(RefundList { data: refunds.iter().map(RefundBody::from).collect(), has_more }))
}
