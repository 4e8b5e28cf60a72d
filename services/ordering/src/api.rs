//! The ordering HTTP API: `/api/v1/ordering/orders`. A signed-in customer checks out their
//! basket, follows the order (its status, its timeline, a stream of its changes) and may cancel
//! it before it ships; admins see every order. Handlers translate between HTTP and the saga.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::auth::{Caller, roles};
use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::extract::{Json, Path, Query};
use flotilla_chassis::idempotency::{self, Claim, IdempotencyKey, StoredResponse};
use flotilla_chassis::page;
use flotilla_chassis::problem::responses;
use flotilla_chassis::{FieldViolation, Problem, ProblemKind};
use flotilla_contracts::Money;
use flotilla_contracts::ordering::{Address, OrderLine, OrderPlacedV1};
use flotilla_messaging::{HandlerError, Outbox, UnitOfWork};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::basket::{BasketClient, BasketError};
use crate::domain::checkout::{self, AddressInput, BasketLine};
use crate::domain::saga::{Command, Input, Saga, Status};
use crate::saga::{self, Facts, Timeouts};
use crate::store::{self, Entry, Order};

const ORDERS: &str = "/api/v1/ordering/orders";
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;
/// How often a status stream looks for changes, and how long it stays open at most (a client
/// reconnects with `Last-Event-ID` and misses nothing).
const STREAM_POLL: Duration = Duration::from_millis(200);
const STREAM_LIFETIME: Duration = Duration::from_secs(300);
/// How often a cancellation is decided again when the saga moved the order meanwhile.
const CANCEL_ATTEMPTS: u32 = 5;

#[derive(OpenApi)]
#[openapi(
    info(title = "Flotilla ordering", description = "Checkout, and orders through their saga to the customer's door."),
    tags((name = "ordering", description = "Orders")),
)]
struct ApiDoc;

#[derive(Clone)]
struct AppState {
    db: Database,
    outbox: Outbox,
    basket: Arc<BasketClient>,
    timeouts: Timeouts,
}

pub fn router(db: Database, outbox: Outbox, basket: Arc<BasketClient>, timeouts: Timeouts) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(checkout, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
        .routes(routes!(order_events))
        .with_state(AppState { db, outbox, basket, timeouts })
}

/// Where to ship, as clients send it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    #[schema(schema_with = name_line)]
    pub name: String,
    #[schema(schema_with = street_line)]
    pub line1: String,
    #[schema(schema_with = second_line)]
    pub line2: Option<String>,
    #[schema(schema_with = city_line)]
    pub city: String,
    #[schema(schema_with = postal_code_line)]
    pub postal_code: String,
    /// The country, as its ISO 3166-1 alpha-2 code in upper case.
    #[schema(example = "GB", pattern = "^[A-Z]{2}$")]
    pub country: String,
}

// A field whose schema is built by a function takes its description from the function, not from
// a doc comment.
fn described(mut schema: utoipa::openapi::schema::Object, description: &str) -> utoipa::openapi::schema::Object {
    schema.description = Some(description.to_owned());
    schema
}

/// An address line: not blank, at most 200 characters, no control characters.
fn required_line(description: &str) -> utoipa::openapi::schema::Object {
    described(flotilla_chassis::schema::text_line(200), description)
}

fn name_line() -> utoipa::openapi::schema::Object {
    required_line("Who receives the parcel, as the carrier prints it; not blank, at most 200 characters.")
}

fn street_line() -> utoipa::openapi::schema::Object {
    required_line("The street and house number; not blank, at most 200 characters.")
}

fn second_line() -> utoipa::openapi::schema::Object {
    described(
        flotilla_chassis::schema::text(200),
        "More of the address (flat, floor, building), at most 200 characters; left out or blank when there is none.",
    )
}

fn city_line() -> utoipa::openapi::schema::Object {
    required_line("The city or town; not blank, at most 200 characters.")
}

fn postal_code_line() -> utoipa::openapi::schema::Object {
    required_line("The postal code as the country writes it; not blank, at most 200 characters.")
}

/// A checkout of the caller's basket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub ship_to: AddressBody,
    /// One `@`, something before it, a dotted domain after it, no spaces; at most 254
    /// characters.
    #[schema(
        example = "ada@example.com",
        max_length = 254,
        pattern = "^[^@\\s\\x00-\\x1F\\x7F-\\x9F]+@[^@.\\s\\x00-\\x1F\\x7F-\\x9F][^@\\s\\x00-\\x1F\\x7F-\\x9F]*\\.[^@\\s\\x00-\\x1F\\x7F-\\x9F]*[^@.\\s\\x00-\\x1F\\x7F-\\x9F]$"
    )]
    pub contact_email: String,
    /// A card number of 12 to 19 digits, spaces and hyphens allowed (the payment provider's
    /// test cards: 4242424242424242 approves, 4000000000000002 is declined, 4000000000009995 has
    /// insufficient funds).
    #[schema(example = "4242424242424242", pattern = "^[ -]*([0-9][ -]*){12,19}$")]
    pub payment_method: String,
}

/// An amount of money.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Amount {
    /// In minor units of the currency: 3499 is 34.99 EUR.
    pub amount_minor: i64,
    /// The ISO 4217 code, upper case.
    pub currency: String,
}

/// A line of the order: a product, how many, and its price at checkout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineBody {
    /// The catalog's product.
    pub product_id: Uuid,
    /// The product's stock-keeping unit.
    pub sku: String,
    /// The product's name at checkout.
    pub name: String,
    /// How many were ordered, at least 1.
    pub quantity: u32,
    /// The price of one, as the basket priced it at checkout.
    pub unit_price: Amount,
}

/// A step the order took.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// The entry's number within the order, from 1; a stream's event id.
    pub seq: i64,
    /// When the step was taken (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub at: String,
    /// The order's status after the step.
    pub status: String,
    /// What happened, in words, such as `stock reserved` or `payment declined`.
    pub step: String,
    /// What the other service said: the card processor's decline code, why a payment failed, or
    /// how a payment was undone (`voided`, `refunded`, `nothing`); null when it said nothing.
    pub detail: Option<String>,
}

/// An order with its timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderResponse {
    /// The order's id.
    pub order_id: Uuid,
    /// The customer who placed it: their account's id.
    pub customer_id: String,
    /// pending, stock_reserved, payment_authorized, confirmed, shipped, rejected or cancelled.
    #[schema(example = "confirmed")]
    pub status: String,
    /// The saga's step: what it waits for (reserving, authorizing, committing, capturing,
    /// stopping_shipment, undoing) or where it stands (confirmed, shipped, rejected, cancelled).
    #[schema(example = "confirmed")]
    pub step: String,
    /// Why a rejected order was rejected: out-of-stock, payment-declined, payment-failed or
    /// timed-out; null unless it was rejected.
    pub reason: Option<String>,
    /// What was ordered.
    pub lines: Vec<LineBody>,
    /// What the order costs: its lines' prices times their quantities.
    pub total: Amount,
    /// What was charged to the card; zero until the payment is captured.
    pub captured: Amount,
    /// What went back to the card by refund when the order was undone after its payment was
    /// captured; zero otherwise.
    pub refunded: Amount,
    /// Who carries the parcel; null until the carrier has it.
    pub carrier: Option<String>,
    /// The carrier's tracking number; null until the carrier has the parcel.
    pub tracking_number: Option<String>,
    /// When the order was placed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the order last changed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Every step the order took, oldest first; empty in a list of orders.
    pub timeline: Vec<TimelineEntry>,
}

/// A page of orders, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = examples::page)]
pub struct OrderPage {
    /// Orders without their timelines.
    pub items: Vec<OrderResponse>,
    /// Pass as `after` for the next page; null on the last one.
    pub next_after: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only orders with this status.
    #[param(pattern = "^(pending|stock_reserved|payment_authorized|confirmed|shipped|rejected|cancelled)$")]
    pub status: Option<String>,
    /// The last order id of the previous page.
    pub after: Option<Uuid>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn amount(order: &Order, amount_minor: i64) -> Amount {
    Amount { amount_minor, currency: order.currency.clone() }
}

fn response(order: &Order, timeline: &[Entry]) -> OrderResponse {
    let reason = match &order.saga.ending {
        Some(crate::domain::saga::Ending::Rejected(reason)) if order.saga.status == Status::Rejected => {
            Some(reason.as_str().to_owned())
        }
        _ => None,
    };
    OrderResponse {
        order_id: order.order_id,
        customer_id: order.customer_id.clone(),
        status: order.saga.status.as_str().to_owned(),
        step: order.saga.phase.as_str().to_owned(),
        reason,
        lines: order
            .lines
            .iter()
            .map(|l| LineBody {
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: Amount { amount_minor: l.unit_price.amount_minor, currency: l.unit_price.currency.clone() },
            })
            .collect(),
        total: amount(order, order.total_minor),
        captured: amount(order, order.captured_minor),
        refunded: amount(order, order.refunded_minor),
        carrier: order.carrier.clone(),
        tracking_number: order.tracking_number.clone(),
        created_at: timestamp(order.created_at),
        updated_at: timestamp(order.updated_at),
        timeline: timeline.iter().map(entry).collect(),
    }
}

fn entry(entry: &Entry) -> TimelineEntry {
    TimelineEntry {
        seq: entry.seq,
        at: timestamp(entry.at),
        status: entry.status.clone(),
        step: entry.step.clone(),
        detail: entry.detail.clone(),
    }
}

/// Check out the caller's basket. Requires an `Idempotency-Key`: the same key returns the same
/// order, the same key with another body is refused. The order is accepted (202) and then goes
/// through its saga; follow it at the `Location`.
#[utoipa::path(post, path = "/api/v1/ordering/orders", tag = "ordering", request_body = CheckoutRequest,
    params(idempotency::RequiredKey),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Accepted", body = OrderResponse,
            headers(("Location" = String, description = "The order's address, to follow it")),
            example = json!(examples::accepted())),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "A service account cannot check out", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The checkout or the basket is not valid, or the key was used for another checkout", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The basket could not be read; retry with the same key", body = Problem, content_type = "application/problem+json"),
    ))]
async fn checkout(
    caller: Caller,
    State(state): State<AppState>,
    key: Option<IdempotencyKey>,
    Json(request): Json<CheckoutRequest>,
) -> Result<Response, Problem> {
    if caller.client_id.as_deref() == Some(caller.subject.as_str()) {
        return Err(Problem::new(ProblemKind::Forbidden).with_detail("a service account has no basket to check out"));
    }
    let key = key.ok_or_else(|| {
        Problem::invalid_parameter("Idempotency-Key", "is required: it makes a retried checkout return the same order")
    })?;
    let ship_to = &request.ship_to;
    let address = AddressInput {
        name: &ship_to.name,
        line1: &ship_to.line1,
        line2: ship_to.line2.as_deref(),
        city: &ship_to.city,
        postal_code: &ship_to.postal_code,
        country: &ship_to.country,
    };
    let violations = checkout::check(&address, &request.contact_email, &request.payment_method);
    if !violations.is_empty() {
        return Err(Problem::validation(
            violations.into_iter().map(|v| FieldViolation::new(v.field, v.message)).collect(),
        ));
    }
    // Read before the transaction: no database lock is held across a call to another service.
    let basket = state.basket.basket(&caller.subject).await.map_err(basket_problem)?;

    let scope = format!("ordering.checkout:{}", caller.subject);
    let now = OffsetDateTime::now_utc();
    let mut work = UnitOfWork::begin(&state.db, &state.outbox).await?;
    if let Claim::Replay(stored) =
        idempotency::claim(&mut work, &scope, &key, &idempotency::fingerprint(&request), &timestamp(now)).await?
    {
        return Ok(stored.into_response());
    }
    let priced: Vec<BasketLine> = basket
        .lines
        .iter()
        .map(|l| BasketLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
            unit_minor: l.unit_price.amount_minor,
            currency: l.unit_price.currency.clone(),
            available: l.available,
        })
        .collect();
    let (total_minor, currency) = checkout::total(&priced)
        .map_err(|e| Problem::validation(vec![FieldViolation::new("basket", e.to_string())]))?;
    let lines: Vec<OrderLine> = basket
        .lines
        .iter()
        .map(|l| OrderLine {
            product_id: l.product_id,
            sku: l.sku.clone(),
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price: Money { amount_minor: l.unit_price.amount_minor, currency: l.unit_price.currency.clone() },
        })
        .collect();
    let mut order = Order {
        order_id: Uuid::now_v7(),
        customer_id: caller.subject.clone(),
        contact_email: request.contact_email.trim().to_owned(),
        saga: Saga::start(),
        version: 1,
        total_minor,
        currency,
        lines,
        ship_to: Address {
            name: ship_to.name.trim().to_owned(),
            line1: ship_to.line1.trim().to_owned(),
            line2: ship_to.line2.as_deref().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned),
            city: ship_to.city.trim().to_owned(),
            postal_code: ship_to.postal_code.trim().to_owned(),
            country: ship_to.country.clone(),
        },
        payment_method: Some(request.payment_method.chars().filter(char::is_ascii_digit).collect()),
        captured_minor: 0,
        refunded_minor: 0,
        carrier: None,
        tracking_number: None,
        created_at: now,
        updated_at: now,
    };
    store::insert(&mut work, &order).await?;
    let placed = OrderPlacedV1 {
        order_id: order.order_id,
        customer: saga::customer(&order),
        basket_version: basket.version,
        lines: order.lines.clone(),
        total: Money { amount_minor: order.total_minor, currency: order.currency.clone() },
    };
    work.publish(&placed).await?;
    saga::send(&mut work, &mut order, Command::ReserveStock).await.map_err(|e| Problem::internal(&e))?;
    saga::schedule(&mut work, &order, now + state.timeouts.step).await?;
    store::append(&mut work, order.order_id, 1, &order.saga, "accepted: reserving stock", None, now).await?;

    let timeline =
        [Entry { seq: 1, at: now, status: "pending".into(), step: "accepted: reserving stock".into(), detail: None }];
    let body = response(&order, &timeline);
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("{ORDERS}/{}", order.order_id)) {
        headers.insert(header::LOCATION, location);
    }
    idempotency::remember(&mut work, &scope, &key, &StoredResponse::json(StatusCode::ACCEPTED, &body, &headers))
        .await?;
    work.commit().await?;
    Ok((StatusCode::ACCEPTED, headers, Json(body)).into_response())
}

fn basket_problem(error: BasketError) -> Problem {
    tracing::warn!(%error, "checkout could not read the basket");
    Problem::new(ProblemKind::Unavailable)
        .with_detail("the basket could not be read; retry with the same Idempotency-Key")
        .with_retry_after(1)
}

/// The caller's orders, newest last; an admin's list holds everyone's.
#[utoipa::path(get, path = "/api/v1/ordering/orders", tag = "ordering", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        responses::InvalidParameter,
        responses::Unauthenticated,
    ))]
async fn list_orders(
    caller: Caller,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<OrderPage>, Problem> {
    let limit = page::limit(params.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let status = params
        .status
        .as_deref()
        .map(|s| Status::parse(s).ok_or_else(|| Problem::invalid_parameter("status", "is not an order status")))
        .transpose()?;
    let customer = (!caller.has_role(roles::ADMIN)).then_some(caller.subject.as_str());
    let rows = store::list(state.db.pool(), customer, status, params.after, page::fetch(limit)).await?;
    let (orders, next_after) = page::split(rows, limit, |order| order.order_id);
    Ok(Json(OrderPage { items: orders.iter().map(|o| response(o, &[])).collect(), next_after }))
}

/// An order with its timeline: the customer's own, or any for an admin.
#[utoipa::path(get, path = "/api/v1/ordering/orders/{order_id}", tag = "ordering",
    params(("order_id" = Uuid, Path, description = "The order")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order", body = OrderResponse, example = json!(examples::shipped())),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "The order is someone else's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_order(
    caller: Caller,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<OrderResponse>, Problem> {
    let order = visible_order(&state, &caller, order_id).await?;
    let timeline = store::timeline(state.db.pool(), order_id, 0).await?;
    Ok(Json(response(&order, &timeline)))
}

/// Cancel an order before it ships: its payment is voided or refunded and its stock given
/// back, then it is cancelled. Asking again while that happens is answered the same.
#[utoipa::path(post, path = "/api/v1/ordering/orders/{order_id}/cancel", tag = "ordering",
    params(("order_id" = Uuid, Path, description = "The order")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Being cancelled (or cancelled already)", body = OrderResponse,
            example = json!(examples::cancelling())),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "The order is someone else's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Shipped, rejected or being rejected: it cannot be cancelled", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_order(
    caller: Caller,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Response, Problem> {
    visible_order(&state, &caller, order_id).await?;
    // The saga may take a step of this order while the cancellation is decided (a reply landing
    // at the same moment): the cancellation is then decided again on the new state.
    let mut attempts = 0;
    let (mut work, advanced) = loop {
        let mut work = UnitOfWork::begin(&state.db, &state.outbox).await?;
        match saga::advance(&mut work, state.timeouts, order_id, Input::CancelRequested, Facts::default()).await {
            Ok(advanced) => break (work, advanced),
            Err(HandlerError::Transient(_)) if attempts < CANCEL_ATTEMPTS => attempts += 1,
            Err(error) => {
                return Err(Problem::new(ProblemKind::Unavailable).with_detail(error.to_string()).with_retry_after(1));
            }
        }
    };
    let order = match advanced {
        Some(order) => {
            work.commit().await?;
            order
        }
        None => {
            let order = store::order(&mut work, order_id).await?.ok_or_else(|| not_found(order_id))?;
            if order.saga.ending != Some(crate::domain::saga::Ending::Cancelled) {
                return Err(Problem::new(ProblemKind::Conflict).with_detail(format!(
                    "the order is {}; it can no longer be cancelled",
                    order.saga.status.as_str()
                )));
            }
            order
        }
    };
    let timeline = store::timeline(state.db.pool(), order_id, 0).await?;
    Ok((StatusCode::ACCEPTED, Json(response(&order, &timeline))).into_response())
}

/// The order's steps as server-sent events, from the first (or after `Last-Event-ID`) until
/// the order is shipped, rejected or cancelled. Each event's data is a timeline entry.
#[utoipa::path(get, path = "/api/v1/ordering/orders/{order_id}/events", tag = "ordering",
    params(
        ("order_id" = Uuid, Path, description = "The order"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this entry"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-sent events: each `status` event's data is a timeline entry as JSON, its id the entry's `seq`",
            content_type = "text/event-stream", body = String, example = json!(examples::stream())),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "The order is someone else's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    ))]
async fn order_events(
    caller: Caller,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    visible_order(&state, &caller, order_id).await?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            Problem::invalid_parameter("Last-Event-ID", "must be the id of an event this stream sent")
        })?,
    };
    let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
    let db = state.db.clone();
    let stream = futures_util::stream::unfold((after, false), move |(after, done)| {
        let db = db.clone();
        async move {
            if done {
                return None;
            }
            loop {
                let entries = store::timeline(db.pool(), order_id, after).await.unwrap_or_default();
                if let Some(next) = entries.into_iter().next() {
                    let finished = Status::parse(&next.status).is_some_and(Status::is_terminal);
                    let data = serde_json::to_string(&entry(&next)).unwrap_or_default();
                    let event = Event::default().id(next.seq.to_string()).event("status").data(data);
                    return Some((Ok(event), (next.seq, finished)));
                }
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                tokio::time::sleep(STREAM_POLL).await;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The order, if the caller may see it: their own, or any for an admin.
async fn visible_order(state: &AppState, caller: &Caller, order_id: Uuid) -> Result<Order, Problem> {
    let order = store::get(state.db.pool(), order_id).await?.ok_or_else(|| not_found(order_id))?;
    caller.require_owner(&order.customer_id, Some(roles::ADMIN))?;
    Ok(order)
}

fn not_found(order_id: Uuid) -> Problem {
    Problem::not_found(format!("no order has id {order_id}"))
}

/// The documents' examples: one order (a skillet and a knife, 94.98 EUR) on its way through the
/// saga, and another whose card was declined, as the handlers above would answer.
mod examples {
    use uuid::{Uuid, uuid};

    use super::{Amount, LineBody, OrderPage, OrderResponse, TimelineEntry};

    const ORDER: Uuid = uuid!("0195b7f0-8a3c-7b21-a4d5-3e9c7f1b2a60");
    const DECLINED_ORDER: Uuid = uuid!("0195b812-1d4e-7f6a-8b3c-2a5d9e0f4c17");
    const CUSTOMER: &str = "0195b7e2-4c1a-7d3e-9f20-6a8b4c2d1e0f";

    fn eur(amount_minor: i64) -> Amount {
        Amount { amount_minor, currency: "EUR".into() }
    }

    fn line(product_id: Uuid, sku: &str, name: &str, quantity: u32, unit_minor: i64) -> LineBody {
        LineBody { product_id, sku: sku.into(), name: name.into(), quantity, unit_price: eur(unit_minor) }
    }

    fn entry(seq: i64, at: &str, status: &str, step: &str, detail: Option<&str>) -> TimelineEntry {
        TimelineEntry { seq, at: at.into(), status: status.into(), step: step.into(), detail: detail.map(Into::into) }
    }

    /// The steps of the order up to its confirmation.
    fn confirmation() -> Vec<TimelineEntry> {
        vec![
            entry(1, "2025-03-14T09:26:53.589793Z", "pending", "accepted: reserving stock", None),
            entry(2, "2025-03-14T09:26:53.731204Z", "stock_reserved", "stock reserved", None),
            entry(3, "2025-03-14T09:26:54.102377Z", "payment_authorized", "payment authorized", None),
            entry(4, "2025-03-14T09:26:54.215690Z", "payment_authorized", "stock committed", None),
            entry(5, "2025-03-14T09:26:54.498021Z", "confirmed", "payment captured: confirmed", None),
        ]
    }

    fn order(status: &str, step: &str, captured_minor: i64, timeline: Vec<TimelineEntry>) -> OrderResponse {
        let updated_at = timeline.last().map(|entry| entry.at.clone()).unwrap_or_default();
        OrderResponse {
            order_id: ORDER,
            customer_id: CUSTOMER.into(),
            status: status.into(),
            step: step.into(),
            reason: None,
            lines: vec![
                line(uuid!("0195a0f3-5b2c-7d1e-a4f6-3c8b9d0e1f2a"), "KIT-0001", "Cast-Iron Skillet 26 cm", 1, 3499),
                line(uuid!("0195a0f3-5b2d-7a40-b1c8-9e2f6d3a7b15"), "KIT-0003", "Chef's Knife 20 cm", 1, 5999),
            ],
            total: eur(9498),
            captured: eur(captured_minor),
            refunded: eur(0),
            carrier: None,
            tracking_number: None,
            created_at: "2025-03-14T09:26:53.589793Z".into(),
            updated_at,
            timeline,
        }
    }

    /// A checkout just accepted.
    pub fn accepted() -> OrderResponse {
        let mut timeline = confirmation();
        timeline.truncate(1);
        order("pending", "reserving", 0, timeline)
    }

    /// The order after the carrier collected it.
    pub fn shipped() -> OrderResponse {
        let mut timeline = confirmation();
        timeline.push(entry(6, "2025-03-14T09:27:04.612385Z", "shipped", "shipped", None));
        OrderResponse {
            carrier: Some("Flotilla Post".into()),
            tracking_number: Some("FP473124829GB".into()),
            ..order("shipped", "shipped", 9498, timeline)
        }
    }

    /// The confirmed order, asked to be cancelled before the carrier collected it.
    pub fn cancelling() -> OrderResponse {
        let mut timeline = confirmation();
        let step = "cancellation requested: stopping the shipment";
        timeline.push(entry(6, "2025-03-14T09:26:58.120447Z", "confirmed", step, None));
        order("confirmed", "stopping_shipment", 9498, timeline)
    }

    /// The order's first two steps as its event stream sends them.
    pub fn stream() -> String {
        confirmation()
            .iter()
            .take(2)
            .map(|entry| {
                let data = serde_json::to_string(entry).unwrap_or_default();
                format!("id: {}\nevent: status\ndata: {data}\n\n", entry.seq)
            })
            .collect()
    }

    /// A list of two orders: the shipped one and one whose card was declined.
    pub fn page() -> OrderPage {
        let shipped = OrderResponse { timeline: Vec::new(), ..shipped() };
        let declined = OrderResponse {
            order_id: DECLINED_ORDER,
            status: "rejected".into(),
            step: "rejected".into(),
            reason: Some("payment-declined".into()),
            lines: vec![line(
                uuid!("0195a0f3-5b31-7c02-8e4d-1f7a3b9c5d26"),
                "KIT-0005",
                "Enamelled Dutch Oven 5.2 L",
                1,
                12900,
            )],
            total: eur(12900),
            captured: eur(0),
            carrier: None,
            tracking_number: None,
            created_at: "2025-03-14T10:02:17.304518Z".into(),
            updated_at: "2025-03-14T10:02:18.011962Z".into(),
            ..shipped.clone()
        };
        OrderPage { items: vec![shipped, declined], next_after: Some(DECLINED_ORDER) }
    }
}
