//! The inventory HTTP API: `/api/v1/inventory/...`. Anyone may ask how many units of a SKU are
//! free (a token, if sent, must still be acceptable); receiving and adjusting stock, and looking at counts and reservations, is for admins.
//! Handlers translate between HTTP and the domain; the rules live in `domain`, the SQL in `store`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::auth::{Admin, Caller};
use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::extract::{Json, Path, Query};
use flotilla_chassis::idempotency::{self, Claim, IdempotencyKey, StoredResponse};
use flotilla_chassis::page;
use flotilla_chassis::problem::responses;
use flotilla_chassis::{FieldViolation, Problem, ProblemKind};
use flotilla_messaging::{Outbox, UnitOfWork};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::stock::{self, Violation};
use crate::store::{self, Reservation, StockItem};

/// SKUs are short codes; anything longer is not one of ours.
const MAX_SKU_CHARS: usize = 64;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

#[derive(OpenApi)]
#[openapi(
    info(title = "Flotilla inventory", description = "Stock per SKU, and the reservations that hold it for orders."),
    tags((name = "inventory", description = "Stock and reservations")),
)]
struct ApiDoc;

#[derive(Clone)]
struct AppState {
    db: Database,
    outbox: Outbox,
}

pub fn router(db: Database, outbox: Outbox) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(availability))
        .routes(routes!(list_stock))
        .routes(routes!(receive))
        .routes(routes!(adjust))
        .routes(routes!(get_reservation))
        .with_state(AppState { db, outbox })
}

/// How many units of a SKU can be bought now.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"sku": "KIT-0001", "available": 37, "discontinued": false}))]
pub struct Availability {
    /// The SKU asked about.
    pub sku: String,
    /// Units free to reserve now, 0 or more.
    pub available: i64,
    /// The product left the catalogue: nothing more can be reserved.
    pub discontinued: bool,
}

/// A SKU's counts. Always `available + reserved + committed = received`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = examples::skillet)]
pub struct StockLevel {
    /// The stock-keeping unit, as the catalog names it.
    pub sku: String,
    /// The catalog product sold under this SKU; null when none is known.
    pub product_id: Option<Uuid>,
    /// Free to reserve.
    pub available: i64,
    /// Held for orders not yet paid for.
    pub reserved: i64,
    /// Sold.
    pub committed: i64,
    /// Everything received, less what adjustments took away.
    pub received: i64,
    /// The product left the catalogue: nothing more can be reserved.
    pub discontinued: bool,
    /// Grows by one with every change of the counts or the product.
    pub version: i64,
    /// When the counts or the product last changed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&StockItem> for StockLevel {
    fn from(item: &StockItem) -> Self {
        Self {
            sku: item.sku.clone(),
            product_id: item.product_id,
            available: item.available,
            reserved: item.reserved,
            committed: item.committed,
            received: item.received,
            discontinued: item.discontinued,
            version: item.version,
            updated_at: timestamp(item.updated_at),
        }
    }
}

/// One page of SKUs' counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = examples::page)]
pub struct StockPage {
    /// The SKUs of this page, in SKU order.
    pub items: Vec<StockLevel>,
    /// Pass as `after` for the next page; null on the last one.
    pub next_after: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// The last SKU of the previous page.
    #[param(min_length = 1, max_length = 64, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$")]
    pub after: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The documents' examples, built from the response types so that they are what is served.
mod examples {
    use uuid::uuid;

    use super::{StockLevel, StockPage};

    pub fn skillet() -> StockLevel {
        StockLevel {
            sku: "KIT-0001".into(),
            product_id: Some(uuid!("019593fa-5d95-7c4e-8a1f-3b6d9e2c7a10")),
            available: 37,
            reserved: 3,
            committed: 8,
            received: 48,
            discontinued: false,
            version: 14,
            updated_at: "2025-05-20T08:15:42.781305Z".into(),
        }
    }

    fn saucepan() -> StockLevel {
        StockLevel {
            sku: "KIT-0002".into(),
            product_id: Some(uuid!("019593fa-9e20-7d51-b3c8-0e4f7a9d1b26")),
            available: 0,
            reserved: 2,
            committed: 22,
            received: 24,
            discontinued: false,
            version: 9,
            updated_at: "2025-05-19T17:02:11.046823Z".into(),
        }
    }

    pub fn page() -> StockPage {
        StockPage { items: vec![skillet(), saucepan()], next_after: Some("KIT-0002".into()) }
    }
}

/// Units received into stock.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// How many units arrived, 1 to 1,000,000.
    #[schema(example = 24, minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
    /// Where the units came from (a delivery note, at most 200 characters).
    #[schema(schema_with = note_schema)]
    pub note: Option<String>,
}

/// A correction of the free count, up (found) or down (broken, lost).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// Non-zero, at most a million units either way.
    #[schema(schema_with = delta_schema)]
    pub delta: i64,
    /// Why (at most 200 characters).
    #[schema(schema_with = reason_schema)]
    pub reason: String,
}

fn delta_schema() -> utoipa::openapi::schema::Schema {
    let mut schema = flotilla_chassis::schema::nonzero_change(stock::MAX_UNITS);
    if let utoipa::openapi::schema::Schema::OneOf(one_of) = &mut schema {
        one_of.description = Some(
            "Units to add to the free count, or to take from it when negative: not 0, at most 1,000,000 either way."
                .into(),
        );
    }
    schema
}

fn reason_schema() -> utoipa::openapi::schema::Object {
    let mut schema = flotilla_chassis::schema::text_line(200);
    schema.description =
        Some("Why the count changed: at most 200 characters, not blank, no control characters.".into());
    schema
}

fn note_schema() -> utoipa::openapi::schema::Object {
    let mut schema = flotilla_chassis::schema::text_line(200);
    schema.description = Some(
        "Where the units came from, such as a delivery note: at most 200 characters, not blank, no control characters."
            .into(),
    );
    schema
}

/// Units of one SKU that a reservation is for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReservationLine {
    /// The stock-keeping unit.
    pub sku: String,
    /// How many units, at least 1.
    pub quantity: u32,
}

/// An order's reservation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "order_id": "0196ecc3-46bd-7a02-9c5e-d17f3b8a6e41",
    "state": "held",
    "lines": [{"sku": "KIT-0001", "quantity": 2}, {"sku": "KIT-0002", "quantity": 1}],
    "expires_at": "2025-05-20T08:30:42.781305Z",
    "created_at": "2025-05-20T08:15:42.781305Z",
    "updated_at": "2025-05-20T08:15:42.781305Z"
}))]
pub struct ReservationResponse {
    /// The order the units are reserved for.
    pub order_id: Uuid,
    /// held, committed, released, expired or refused.
    #[schema(example = "held")]
    pub state: String,
    /// The SKUs and units the order asked for; empty when it was released before the
    /// reservation arrived.
    pub lines: Vec<ReservationLine>,
    /// When a hold lapses unless committed or released first (RFC 3339, UTC); null when
    /// nothing was ever held.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// When the reservation was recorded (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When its state last changed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Reservation> for ReservationResponse {
    fn from(reservation: &Reservation) -> Self {
        Self {
            order_id: reservation.order_id,
            state: reservation.state.as_str().to_owned(),
            lines: reservation
                .lines
                .iter()
                .map(|l| ReservationLine { sku: l.sku.clone(), quantity: l.quantity })
                .collect(),
            expires_at: reservation.expires_at.map(timestamp),
            created_at: timestamp(reservation.created_at),
            updated_at: timestamp(reservation.updated_at),
        }
    }
}

/// How many units of a SKU are free.
#[utoipa::path(get, path = "/api/v1/inventory/stock/{sku}", tag = "inventory",
    params(("sku" = String, Path, description = "The SKU: 1 to 64 characters, none of them control characters", min_length = 1, max_length = 64, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Its free units", body = Availability),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 404, description = "Inventory does not stock this SKU", body = Problem, content_type = "application/problem+json"),
    ))]
async fn availability(
    State(state): State<AppState>,
    _anyone: Option<Caller>,
    Path(sku): Path<String>,
) -> Result<Json<Availability>, Problem> {
    let item = known_item(&state, &sku).await?;
    Ok(Json(Availability { sku: item.sku, available: item.available, discontinued: item.discontinued }))
}

/// Every SKU's counts, in SKU order (admin).
#[utoipa::path(get, path = "/api/v1/inventory/stock", tag = "inventory", params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of SKUs", body = StockPage),
        responses::InvalidParameter,
        responses::Unauthenticated,
        responses::NotAdmin,
    ))]
async fn list_stock(
    _admin: Admin,
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> Result<Json<StockPage>, Problem> {
    let limit = page::limit(params.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let after = params.after.as_deref().map(checked_sku).transpose()?;
    let rows = store::list_items(state.db.pool(), after, page::fetch(limit)).await?;
    let (items, next_after) = page::split(rows, limit, |item| item.sku.clone());
    Ok(Json(StockPage { items: items.iter().map(StockLevel::from).collect(), next_after }))
}

/// Receive units into stock (admin). Send an `Idempotency-Key` so that a retry receives once.
#[utoipa::path(post, path = "/api/v1/inventory/stock/{sku}/receipts", tag = "inventory", request_body = ReceiptRequest,
    params(
        ("sku" = String, Path, description = "The SKU: 1 to 64 characters, none of them control characters", min_length = 1, max_length = 64, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"),
        idempotency::OptionalKey,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The SKU's counts after the receipt", body = StockLevel),
        responses::InvalidParameter,
        responses::Unauthenticated,
        responses::NotAdmin,
        (status = 404, description = "Inventory does not stock this SKU", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The receipt is not valid, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn receive(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(sku): Path<String>,
    key: Option<IdempotencyKey>,
    Json(request): Json<ReceiptRequest>,
) -> Result<Response, Problem> {
    checked_sku(&sku)?;
    let quantity = stock::receipt(request.quantity).map_err(|v| invalid(vec![v]))?;
    let note = stock::note(request.note.as_deref()).map_err(|v| invalid(vec![v]))?;
    let change = Change { sku, delta: quantity, reason: note, actor: caller.subject };
    apply(&state, "inventory.receive", key.as_ref(), &request, change).await
}

/// Correct the free count of a SKU (admin): it never takes units that are held or sold.
#[utoipa::path(post, path = "/api/v1/inventory/stock/{sku}/adjustments", tag = "inventory", request_body = AdjustmentRequest,
    params(
        ("sku" = String, Path, description = "The SKU: 1 to 64 characters, none of them control characters", min_length = 1, max_length = 64, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"),
        idempotency::OptionalKey,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The SKU's counts after the adjustment", body = StockLevel),
        responses::InvalidParameter,
        responses::Unauthenticated,
        responses::NotAdmin,
        (status = 404, description = "Inventory does not stock this SKU", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Fewer units are free than the adjustment takes", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The adjustment is not valid, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn adjust(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(sku): Path<String>,
    key: Option<IdempotencyKey>,
    Json(request): Json<AdjustmentRequest>,
) -> Result<Response, Problem> {
    checked_sku(&sku)?;
    let (delta, reason) = stock::adjustment(request.delta, &request.reason).map_err(invalid)?;
    let change = Change { sku, delta, reason, actor: caller.subject };
    apply(&state, "inventory.adjust", key.as_ref(), &request, change).await
}

/// A checked change of a SKU's received count.
struct Change {
    sku: String,
    delta: i64,
    reason: String,
    actor: String,
}

/// Applies `change` with its movement record, once per idempotency key, in one transaction.
async fn apply(
    state: &AppState,
    operation: &str,
    key: Option<&IdempotencyKey>,
    request: &impl Serialize,
    change: Change,
) -> Result<Response, Problem> {
    // Keys are per caller and per SKU: two admins who pick the same key do not collide.
    let scope = format!("{operation}:{}:{}", change.actor, change.sku);
    let now = OffsetDateTime::now_utc();
    let mut work = UnitOfWork::begin(&state.db, &state.outbox).await?;
    if let Some(key) = key
        && let Claim::Replay(stored) =
            idempotency::claim(&mut work, &scope, key, &idempotency::fingerprint(request), &timestamp(now)).await?
    {
        return Ok(stored.into_response());
    }
    let Some(item) = store::change_received(&mut work, &change.sku, change.delta, now).await? else {
        return Err(match store::item(&mut work, &change.sku).await? {
            None => unknown_sku(&change.sku),
            Some(item) => Problem::new(ProblemKind::Conflict).with_detail(format!(
                "only {} units of {} are free; an adjustment cannot take held or sold units",
                item.available, item.sku
            )),
        });
    };
    store::record_movement(&mut work, &change.sku, change.delta, &change.reason, &change.actor, now).await?;
    let body = StockLevel::from(&item);
    if let Some(key) = key {
        idempotency::remember(&mut work, &scope, key, &StoredResponse::json(StatusCode::OK, &body, &HeaderMap::new()))
            .await?;
    }
    work.commit().await?;
    Ok(Json(body).into_response())
}

/// An order's reservation (admin).
#[utoipa::path(get, path = "/api/v1/inventory/reservations/{order_id}", tag = "inventory",
    params(("order_id" = Uuid, Path, description = "The order the reservation is for")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The reservation", body = ReservationResponse),
        responses::InvalidParameter,
        responses::Unauthenticated,
        responses::NotAdmin,
        (status = 404, description = "No reservation for this order", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_reservation(
    _admin: Admin,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<ReservationResponse>, Problem> {
    let mut conn = state.db.pool().acquire().await?;
    let reservation = store::reservation(&mut conn, order_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no reservation for order {order_id}")))?;
    Ok(Json(ReservationResponse::from(&reservation)))
}

async fn known_item(state: &AppState, sku: &str) -> Result<StockItem, Problem> {
    store::get_item(state.db.pool(), checked_sku(sku)?).await?.ok_or_else(|| unknown_sku(sku))
}

fn checked_sku(sku: &str) -> Result<&str, Problem> {
    if sku.is_empty() || sku.chars().count() > MAX_SKU_CHARS || sku.chars().any(char::is_control) {
        return Err(Problem::invalid_parameter("sku", "must be 1 to 64 characters, none of them control characters"));
    }
    Ok(sku)
}

fn unknown_sku(sku: &str) -> Problem {
    Problem::not_found(format!("inventory does not stock SKU {sku}"))
}

fn invalid(violations: Vec<Violation>) -> Problem {
    Problem::validation(violations.into_iter().map(|v| FieldViolation::new(v.field, v.message)).collect())
}
