//! The basket HTTP API: `/api/v1/basket/baskets/{customer_id}...`. Handlers translate between
//! HTTP and the domain; the rules live in `domain`, who may do what in `access`, the SQL in
//! `store`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::extract::{Json, Path};
use flotilla_chassis::idempotency::{self, Claim, IdempotencyKey, StoredResponse};
use flotilla_chassis::problem::responses;
use flotilla_chassis::{FieldViolation, Problem, ProblemKind};
use flotilla_messaging::{Outbox, UnitOfWork};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::{Owner, Reader};
use crate::domain::basket::{Edit, Entry, Field, Limits, Refusal};
use crate::domain::money::Money;
use crate::domain::precondition::{Precondition, etag};
use crate::store::{self, Stored};

const ADD_SCOPE: &str = "basket.add-item";

#[derive(OpenApi)]
#[openapi(
    info(title = "Flotilla basket", description = "Each customer's basket, priced from the catalog's events."),
    tags((name = "basket", description = "Baskets")),
)]
struct ApiDoc;

#[derive(Clone)]
struct AppState {
    db: Database,
    outbox: Outbox,
    limits: Limits,
}

pub fn router(db: Database, outbox: Outbox, limits: Limits) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(get_basket, clear_basket))
        .routes(routes!(add_item))
        .routes(routes!(set_item, remove_item))
        .with_state(AppState { db, outbox, limits })
}

/// An amount in minor units (cents for EUR) of an ISO 4217 currency, as the catalog states prices.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Money)]
pub struct MoneyBody {
    /// The amount in minor units of the currency (cents for EUR).
    #[schema(example = 3499)]
    pub amount_minor: i64,
    /// The ISO 4217 code of the currency, in upper case.
    #[schema(example = "EUR")]
    pub currency: String,
}

impl From<&Money> for MoneyBody {
    fn from(money: &Money) -> Self {
        Self { amount_minor: money.amount_minor, currency: money.currency.clone() }
    }
}

/// What to add: a product of the catalog and how many.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemRequest {
    /// The catalog's id of the product to add.
    pub product_id: Uuid,
    /// Added to the line's quantity if the product is in the basket already. A line holds 1 to
    /// `services.basket.max_quantity` (99 unless configured).
    #[schema(example = 1, minimum = 1, maximum = 99)]
    pub quantity: i64,
}

/// The quantity a line should hold.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityRequest {
    /// 1 to `services.basket.max_quantity` (99 unless configured).
    #[schema(example = 2, minimum = 1, maximum = 99)]
    pub quantity: i64,
}

/// One product in a basket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineResponse {
    /// The catalog's id of the product.
    pub product_id: Uuid,
    /// The product's stock-keeping unit, as the catalog has it now (its last one once deleted).
    pub sku: String,
    /// The product's name, as the catalog has it now (its last one once deleted).
    pub name: String,
    /// How many of the product the line holds, at least 1.
    pub quantity: i64,
    /// The catalog's price now.
    pub unit_price: MoneyBody,
    /// The catalog's price when the line was first added.
    pub price_when_added: MoneyBody,
    /// Whether the price moved since the line was added.
    pub price_changed: bool,
    /// False once the catalog deleted the product: the line can only be removed.
    pub available: bool,
    /// `unit_price` times `quantity`.
    pub line_total: MoneyBody,
}

/// A customer's basket.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "customer_id": "0195b2c4-7e3a-7f19-a6d2-58c1e0b4f937",
    "lines": [
        {
            "product_id": "019593fa-5d95-7c4e-8a1f-3b6d9e2c7a10",
            "sku": "KIT-0001",
            "name": "Cast-Iron Skillet 26 cm",
            "quantity": 2,
            "unit_price": {"amount_minor": 3299, "currency": "EUR"},
            "price_when_added": {"amount_minor": 3499, "currency": "EUR"},
            "price_changed": true,
            "available": true,
            "line_total": {"amount_minor": 6598, "currency": "EUR"}
        },
        {
            "product_id": "019593fa-9e20-7d51-b3c8-0e4f7a9d1b26",
            "sku": "KIT-0002",
            "name": "Stainless Steel Saucepan 2 L with Lid",
            "quantity": 1,
            "unit_price": {"amount_minor": 4299, "currency": "EUR"},
            "price_when_added": {"amount_minor": 4299, "currency": "EUR"},
            "price_changed": false,
            "available": true,
            "line_total": {"amount_minor": 4299, "currency": "EUR"}
        }
    ],
    "totals": [{"amount_minor": 10897, "currency": "EUR"}],
    "version": 4
}))]
pub struct BasketResponse {
    /// The customer whose basket it is: the subject (`sub`) of their token.
    pub customer_id: String,
    /// In the order they were added.
    pub lines: Vec<LineResponse>,
    /// The available lines at today's prices, one total per currency: a single one, since a
    /// basket holds one currency, unless the catalog moved a product to another since; none
    /// when nothing in the basket can be bought.
    pub totals: Vec<MoneyBody>,
    /// Grows by one with every change; the ETag is this number in quotes.
    pub version: i64,
}

impl BasketResponse {
    fn new(customer_id: &str, stored: &Stored) -> Self {
        Self {
            customer_id: customer_id.to_owned(),
            lines: stored.basket.entries.iter().map(LineResponse::from).collect(),
            totals: stored.basket.totals().iter().map(MoneyBody::from).collect(),
            version: stored.version,
        }
    }
}

impl From<&Entry> for LineResponse {
    fn from(entry: &Entry) -> Self {
        Self {
            product_id: entry.product.id,
            sku: entry.product.sku.clone(),
            name: entry.product.name.clone(),
            quantity: entry.line.quantity,
            unit_price: MoneyBody::from(&entry.product.price),
            price_when_added: MoneyBody::from(&entry.line.price_when_added),
            price_changed: entry.price_changed(),
            available: entry.product.available,
            line_total: MoneyBody::from(&entry.total()),
        }
    }
}

/// Get a basket: the caller's own, any one for an administrator, or any one for a service account
/// with the `basket.read` scope. A basket never changed is empty, not missing.
#[utoipa::path(get, path = "/api/v1/basket/baskets/{customer_id}", tag = "basket",
    params(("customer_id" = String, Path, description = "The customer's subject (`sub` of their token)", min_length = 1, max_length = 255, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The basket", body = BasketResponse, headers(("ETag" = String))),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "Someone else's basket, or a service token without basket.read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_basket(reader: Reader, State(state): State<AppState>) -> Result<Response, Problem> {
    let mut conn = state.db.pool().acquire().await?;
    let stored = store::basket(&mut conn, &reader.customer_id).await?;
    Ok(respond(StatusCode::OK, &reader.customer_id, &stored))
}

/// Add a product to the caller's basket, or more of it. Send an `Idempotency-Key` to make
/// retries safe, and `If-Match` to add only to the basket last read.
#[utoipa::path(post, path = "/api/v1/basket/baskets/{customer_id}/items", tag = "basket", request_body = AddItemRequest,
    params(
        ("customer_id" = String, Path, description = "The customer's subject; only their own", min_length = 1, max_length = 255, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"),
        idempotency::OptionalKey,
        ("If-Match" = Option<String>, Header, description = "Change only this version"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The basket after the change", body = BasketResponse, headers(("ETag" = String))),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "Not the caller's basket", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
        (status = 422, description = "Not a valid quantity, a product not in the catalogue or in another currency, a full basket, or a reused Idempotency-Key", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_item(
    owner: Owner,
    State(state): State<AppState>,
    key: Option<IdempotencyKey>,
    request_headers: HeaderMap,
    Json(request): Json<AddItemRequest>,
) -> Result<Response, Problem> {
    let precondition = precondition(&request_headers)?;
    let customer_id = owner.customer_id.as_str();
    // Keys are per caller, and the request they guard includes the basket it names.
    let scope = format!("{ADD_SCOPE}:{}", owner.caller.subject);
    let fingerprint = idempotency::fingerprint(&(customer_id, &request));
    let now = OffsetDateTime::now_utc();

    let mut work = state.begin().await?;
    if let Some(key) = &key
        && let Claim::Replay(stored) = idempotency::claim(&mut work, &scope, key, &fingerprint, &timestamp(now)).await?
    {
        return Ok(stored.into_response());
    }
    let current = locked(&mut work, customer_id, &precondition, now).await?;
    let product = store::product(&mut work, request.product_id).await?;
    let edit = current.basket.add(product.as_ref(), request.quantity, state.limits).map_err(body_refusal)?;
    let stored = save(&mut work, customer_id, &current, &edit, now).await?;
    let body = BasketResponse::new(customer_id, &stored);
    let headers = etag_header(stored.version);
    if let Some(key) = &key {
        idempotency::remember(&mut work, &scope, key, &StoredResponse::json(StatusCode::OK, &body, &headers)).await?;
    }
    work.commit().await?;
    Ok((StatusCode::OK, headers, Json(body)).into_response())
}

/// Set how many of a product the caller's basket holds, adding the line if there is none.
/// Idempotent: sent again, it changes nothing.
#[utoipa::path(put, path = "/api/v1/basket/baskets/{customer_id}/items/{product_id}", tag = "basket", request_body = SetQuantityRequest,
    params(
        ("customer_id" = String, Path, description = "The customer's subject; only their own", min_length = 1, max_length = 255, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"),
        ("product_id" = Uuid, Path, description = "A product of the catalog"),
        ("If-Match" = Option<String>, Header, description = "Change only this version"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The basket after the change", body = BasketResponse, headers(("ETag" = String))),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "Not the caller's basket", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
        (status = 422, description = "Not a valid quantity, a product not in the catalogue or in another currency, or a full basket", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_item(
    owner: Owner,
    State(state): State<AppState>,
    Path((_, product_id)): Path<(String, Uuid)>,
    request_headers: HeaderMap,
    Json(request): Json<SetQuantityRequest>,
) -> Result<Response, Problem> {
    let precondition = precondition(&request_headers)?;
    let customer_id = owner.customer_id.as_str();
    let now = OffsetDateTime::now_utc();
    let mut work = state.begin().await?;
    let current = locked(&mut work, customer_id, &precondition, now).await?;
    let product = store::product(&mut work, product_id).await?;
    let edit = current.basket.set(product.as_ref(), request.quantity, state.limits).map_err(path_refusal)?;
    let stored = save(&mut work, customer_id, &current, &edit, now).await?;
    work.commit().await?;
    Ok(respond(StatusCode::OK, customer_id, &stored))
}

/// Remove a product's line from the caller's basket (also the line of a deleted product).
#[utoipa::path(delete, path = "/api/v1/basket/baskets/{customer_id}/items/{product_id}", tag = "basket",
    params(
        ("customer_id" = String, Path, description = "The customer's subject; only their own", min_length = 1, max_length = 255, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"),
        ("product_id" = Uuid, Path, description = "The product whose line to remove"),
        ("If-Match" = Option<String>, Header, description = "Change only this version"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The basket after the change", body = BasketResponse, headers(("ETag" = String))),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "Not the caller's basket", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The basket holds no line for this product", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
    ))]
async fn remove_item(
    owner: Owner,
    State(state): State<AppState>,
    Path((_, product_id)): Path<(String, Uuid)>,
    request_headers: HeaderMap,
) -> Result<Response, Problem> {
    let precondition = precondition(&request_headers)?;
    let customer_id = owner.customer_id.as_str();
    let now = OffsetDateTime::now_utc();
    let mut work = state.begin().await?;
    let current = locked(&mut work, customer_id, &precondition, now).await?;
    let edit = current.basket.remove(product_id).map_err(path_refusal)?;
    let stored = save(&mut work, customer_id, &current, &edit, now).await?;
    work.commit().await?;
    Ok(respond(StatusCode::OK, customer_id, &stored))
}

/// Empty the caller's basket.
#[utoipa::path(delete, path = "/api/v1/basket/baskets/{customer_id}", tag = "basket",
    params(
        ("customer_id" = String, Path, description = "The customer's subject; only their own", min_length = 1, max_length = 255, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"),
        ("If-Match" = Option<String>, Header, description = "Change only this version"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Emptied (or empty already)", headers(("ETag" = String))),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "Not the caller's basket", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
    ))]
async fn clear_basket(
    owner: Owner,
    State(state): State<AppState>,
    request_headers: HeaderMap,
) -> Result<Response, Problem> {
    let precondition = precondition(&request_headers)?;
    let customer_id = owner.customer_id.as_str();
    let now = OffsetDateTime::now_utc();
    let mut work = state.begin().await?;
    let current = locked(&mut work, customer_id, &precondition, now).await?;
    let edit = current.basket.clear();
    let stored = save(&mut work, customer_id, &current, &edit, now).await?;
    work.commit().await?;
    Ok((StatusCode::NO_CONTENT, etag_header(stored.version)).into_response())
}

impl AppState {
    async fn begin(&self) -> Result<UnitOfWork, Problem> {
        Ok(UnitOfWork::begin(&self.db, &self.outbox).await?)
    }
}

/// The basket of `customer_id`, locked for this transaction, if its version meets the precondition.
async fn locked(
    work: &mut UnitOfWork,
    customer_id: &str,
    precondition: &Precondition,
    now: OffsetDateTime,
) -> Result<Stored, Problem> {
    let version = store::lock(work, customer_id, now).await?;
    if !precondition.admits(version) {
        return Err(Problem::new(ProblemKind::PreconditionFailed)
            .with_detail(format!("the basket is at version {version} now")));
    }
    Ok(store::basket(work, customer_id).await?)
}

/// Stores `edit` as the next version of `current`; the basket as it is then.
async fn save(
    work: &mut UnitOfWork,
    customer_id: &str,
    current: &Stored,
    edit: &Edit,
    now: OffsetDateTime,
) -> Result<Stored, Problem> {
    if *edit == Edit::Unchanged {
        return Ok(current.clone());
    }
    store::save(work, customer_id, edit, current.version + 1, now).await?;
    Ok(store::basket(work, customer_id).await?)
}

fn precondition(headers: &HeaderMap) -> Result<Precondition, Problem> {
    match headers.get(header::IF_MATCH) {
        None => Ok(Precondition::None),
        Some(value) => value.to_str().map(|v| Precondition::IfMatch(v.to_owned())).map_err(|_| {
            Problem::new(ProblemKind::InvalidParameter)
                .with_detail("If-Match must be ASCII")
                .with_errors(vec![FieldViolation::new("If-Match", "must be ASCII")])
        }),
    }
}

fn respond(status: StatusCode, customer_id: &str, stored: &Stored) -> Response {
    (status, etag_header(stored.version), Json(BasketResponse::new(customer_id, stored))).into_response()
}

fn etag_header(version: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, value);
    }
    headers
}

/// A refusal of a change whose product is named in the body (`/product_id`).
fn body_refusal(refusal: Refusal) -> Problem {
    refusal_problem(refusal, "/product_id")
}

/// A refusal of a change whose product is named in the path (`product_id`).
fn path_refusal(refusal: Refusal) -> Problem {
    refusal_problem(refusal, "product_id")
}

fn refusal_problem(refusal: Refusal, product_field: &str) -> Problem {
    match refusal {
        Refusal::Invalid(violation) => {
            let field = match violation.field {
                Field::Quantity => "/quantity",
                Field::Product => product_field,
            };
            Problem::validation(vec![FieldViolation::new(field, violation.message)])
        }
        Refusal::NotInBasket(id) => Problem::not_found(format!("the basket holds no line for product {id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::basket::Violation;

    #[test]
    fn refusals_point_at_the_field_where_the_product_was_named() {
        let refusal =
            || Refusal::Invalid(Violation { field: Field::Product, message: "is not in the catalogue".into() });
        assert_eq!(body_refusal(refusal()).errors[0].field, "/product_id");
        assert_eq!(path_refusal(refusal()).errors[0].field, "product_id");
        let quantity = Refusal::Invalid(Violation { field: Field::Quantity, message: "must be".into() });
        assert_eq!(path_refusal(quantity).errors[0].field, "/quantity");
        assert_eq!(body_refusal(Refusal::NotInBasket(Uuid::nil())).status, 404);
    }
}
