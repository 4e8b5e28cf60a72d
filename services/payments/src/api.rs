//! The payments HTTP API: `/api/v1/payments/...`. A customer may look at their orders'
//! payments, an admin at any. Payments are made through the bus, never over this API.

use axum::extract::State;
use flotilla_chassis::Problem;
use flotilla_chassis::auth::{Caller, roles};
use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::extract::{Json, Path};
use flotilla_chassis::problem::responses;
use flotilla_contracts::Money;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::store::{self, Payment};

#[derive(OpenApi)]
#[openapi(
    info(title = "Flotilla payments", description = "Orders' payments through the card processor."),
    tags((name = "payments", description = "Payments")),
)]
struct ApiDoc;

#[derive(Clone)]
struct AppState {
    db: Database,
}

pub fn router(db: Database) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(get_payment)).with_state(AppState { db })
}

/// An amount of money.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Amount {
    /// In minor units of the currency: 3499 is 34.99 EUR.
    pub amount_minor: i64,
    /// The ISO 4217 code, upper case.
    pub currency: String,
}

impl From<Money> for Amount {
    fn from(money: Money) -> Self {
        Self { amount_minor: money.amount_minor, currency: money.currency }
    }
}

/// An order's payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = example)]
pub struct PaymentResponse {
    /// The payment's id.
    pub payment_id: Uuid,
    /// The order it pays for.
    pub order_id: Uuid,
    /// authorizing, authorized, declined, failed, captured, voided, refunded or cancelled.
    #[schema(example = "captured")]
    pub state: String,
    /// What the order costs, and what is authorized on the card.
    pub amount: Amount,
    /// What was charged to the card; zero until it is captured.
    pub captured: Amount,
    /// What went back to the card after a capture; zero unless refunded.
    pub refunded: Amount,
    /// The card processor's decline code (such as `card_declined` or `insufficient_funds`), or
    /// why the payment failed; null otherwise.
    pub detail: Option<String>,
    /// The card processor's payment intent (`pi_...`); null until the processor made one.
    pub provider_reference: Option<String>,
    /// When the order asked for the payment (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the payment last changed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The payment of an order (a skillet and a knife, 94.98 EUR), captured.
fn example() -> PaymentResponse {
    let eur = |amount_minor| Amount { amount_minor, currency: "EUR".into() };
    PaymentResponse {
        payment_id: uuid::uuid!("0195b7f0-8b02-7e19-9c4a-5d2e8f3b1a74"),
        order_id: uuid::uuid!("0195b7f0-8a3c-7b21-a4d5-3e9c7f1b2a60"),
        state: "captured".into(),
        amount: eur(9498),
        captured: eur(9498),
        refunded: eur(0),
        detail: None,
        provider_reference: Some("pi_0195b7f08c6d7a3e9f1b2c4d6e8a0b13".into()),
        created_at: "2025-03-14T09:26:53.745112Z".into(),
        updated_at: "2025-03-14T09:26:54.476530Z".into(),
    }
}

impl From<&Payment> for PaymentResponse {
    fn from(payment: &Payment) -> Self {
        let amount = |amount_minor| Amount { amount_minor, currency: payment.currency.clone() };
        Self {
            payment_id: payment.payment_id,
            order_id: payment.order_id,
            state: payment.state.as_str().to_owned(),
            amount: amount(payment.amount_minor),
            captured: amount(payment.captured_minor),
            refunded: amount(payment.refunded_minor),
            detail: payment.detail.clone(),
            provider_reference: payment.intent_id.clone(),
            created_at: timestamp(payment.created_at),
            updated_at: timestamp(payment.updated_at),
        }
    }
}

/// The payment of an order: the customer's own, or any for an admin.
#[utoipa::path(get, path = "/api/v1/payments/orders/{order_id}", tag = "payments",
    params(("order_id" = Uuid, Path, description = "The order")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The payment", body = PaymentResponse),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "The order is someone else's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The order has no payment", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_payment(
    caller: Caller,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<PaymentResponse>, Problem> {
    let missing = || Problem::not_found(format!("order {order_id} has no payment"));
    let payment = store::get(state.db.pool(), order_id).await?.ok_or_else(missing)?;
    caller.require_owner(&payment.customer_id, Some(roles::ADMIN))?;
    Ok(Json(PaymentResponse::from(&payment)))
}
