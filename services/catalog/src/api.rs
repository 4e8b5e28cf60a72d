//! The catalog's HTTP API: `/api/v1/catalog/...`. Handlers translate between HTTP and the domain;
//! the rules live in `domain`, the SQL in `store`. Reads are public, yet take `Option<Caller>`:
//! a token that is sent must be acceptable, never quietly taken as anonymous.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::auth::{Admin, Caller};
use flotilla_chassis::db::Database;
use flotilla_chassis::extract::{Json, Path, Query};
use flotilla_chassis::idempotency::{self, Claim, IdempotencyKey, StoredResponse};
use flotilla_chassis::problem::responses;
use flotilla_chassis::{FieldViolation, Problem, ProblemKind};
use flotilla_messaging::{Outbox, UnitOfWork};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::Violation;
use crate::domain::cursor::Cursor;
use crate::domain::product::{self, AttributeValue, Precondition, Product, ProductInput};
use crate::domain::{money, search};
use crate::events;
use crate::store::{self, ListFilter, Outcome, StoreError};

const PRODUCTS: &str = "/api/v1/catalog/products";
const CREATE_SCOPE: &str = "catalog.create-product";
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

#[derive(OpenApi)]
#[openapi(
    info(title = "Flotilla catalog", description = "Products, prices, categories and search."),
    tags((name = "catalog", description = "The product catalogue")),
)]
struct ApiDoc;

#[derive(Clone)]
struct AppState {
    db: Database,
    outbox: Outbox,
}

impl AppState {
    async fn begin(&self) -> Result<UnitOfWork, Problem> {
        Ok(UnitOfWork::begin(&self.db, &self.outbox).await?)
    }
}

pub fn router(db: Database, outbox: Outbox) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, replace_product, delete_product))
        .routes(routes!(list_categories))
        .with_state(AppState { db, outbox })
}

/// A price in minor units (cents for EUR) of an ISO 4217 currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// The amount in minor units of the currency (cents for EUR), 0 to 10,000,000,000.
    #[schema(example = 3499, minimum = 0, maximum = 10_000_000_000_i64)]
    pub amount_minor: i64,
    #[schema(schema_with = currency_schema)]
    pub currency: String,
}

fn name_schema() -> Object {
    let mut schema = flotilla_chassis::schema::text_line(200);
    schema.description =
        Some("The name customers see: at most 200 characters, not blank, no control characters.".into());
    schema.examples = vec!["Cast-Iron Skillet 26 cm".into()];
    schema
}

/// The active ISO 4217 codes the catalog accepts, as an enumeration.
fn currency_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("An active ISO 4217 code in upper case"))
        .enum_values(Some(money::ISO_4217.iter().copied()))
        .examples(["EUR"])
        .build()
}

/// A product as clients send it, to create or to replace.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductRequest {
    /// The stock-keeping unit, unique in the catalogue: 3 to 32 characters of A-Z, 0-9 and -,
    /// not starting with -; surrounding spaces are trimmed.
    #[schema(example = "KIT-0001", pattern = "^\\s*[A-Z0-9][A-Z0-9-]{2,31}\\s*$")]
    pub sku: String,
    /// At most 200 characters, not blank, no control characters.
    #[schema(schema_with = name_schema)]
    pub name: String,
    /// At most 5000 characters; newlines and tabs are the only control characters allowed.
    #[serde(default)]
    #[schema(max_length = 5000, pattern = "^[^\\x00-\\x08\\x0B-\\x1F\\x7F-\\x9F]*$")]
    pub description: String,
    pub price: Price,
    /// Words of a-z and 0-9 joined by single hyphens, at most 50 characters.
    #[schema(example = "kitchen", pattern = "^\\s*(?=[a-z0-9-]{1,50}\\s*$)[a-z0-9]+(-[a-z0-9]+)*\\s*$")]
    pub category: String,
    /// An absolute path (`/images/...`) or an https URL, without spaces.
    #[serde(default)]
    #[schema(
        example = "/images/products/kit-0001.jpg",
        max_length = 500,
        pattern = "^\\s*((/(?!/)|https://(?=\\S))[^\\s\\x00-\\x1F\\x7F-\\x9F]*)?\\s*$"
    )]
    pub image: Option<String>,
    /// Stock-independent properties: values are text, whole numbers or booleans.
    #[serde(default)]
    #[schema(schema_with = attributes_schema)]
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// Attributes as the catalog checks them: at most 32, keys of a-z, 0-9 and _ starting with a
/// letter, values a yes/no, a whole number or a text of at most 200 characters.
fn attributes_schema() -> Object {
    let value = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(i64::MIN))
                .maximum(Some(i64::MAX)),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(200)));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Stock-independent properties: values are text, whole numbers or booleans."))
        .property_names(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z][a-z0-9_]{0,39}$"))))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::OneOf(value.build())))))
        .max_properties(Some(32))
        .build()
}

impl ProductRequest {
    pub fn into_input(self) -> ProductInput {
        ProductInput {
            sku: self.sku,
            name: self.name,
            description: self.description,
            amount_minor: self.price.amount_minor,
            currency: self.price.currency,
            category: self.category,
            image: self.image,
            attributes: self.attributes,
        }
    }
}

/// A stored product.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = examples::skillet)]
pub struct ProductResponse {
    /// The product's id, assigned by the catalog when it was created.
    pub id: Uuid,
    /// The stock-keeping unit, unique in the catalogue.
    pub sku: String,
    /// The name customers see.
    pub name: String,
    /// The long description; empty when the product has none.
    pub description: String,
    pub price: Price,
    /// The category's slug: words of a-z and 0-9 joined by hyphens.
    pub category: String,
    /// An absolute path or an https URL of the product's picture; null when it has none.
    pub image: Option<String>,
    /// Stock-independent properties by name: values are text, whole numbers or booleans.
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Grows by one with every change; the ETag is this number in quotes.
    pub version: i64,
    /// When the product was created (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the product last changed (RFC 3339, UTC); the creation time until then.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Product> for ProductResponse {
    fn from(product: &Product) -> Self {
        let c = &product.content;
        Self {
            id: product.id,
            sku: c.sku.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            price: Price { amount_minor: c.price.amount_minor, currency: c.price.currency.code().to_owned() },
            category: c.category.clone(),
            image: c.image.clone(),
            attributes: c.attributes.clone(),
            version: product.version,
            created_at: store::timestamp(product.created_at),
            updated_at: store::timestamp(product.updated_at),
        }
    }
}

/// One page of products.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = examples::page)]
pub struct ProductPage {
    /// The products of this page: in creation order, or by relevance when searching with `q`.
    pub items: Vec<ProductResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only products of this category.
    pub category: Option<String>,
    /// Full-text search over name and description; every word must match (prefixes count).
    /// Results are then ordered by relevance. At least one word of two letters or digits, at
    /// most 8 distinct words.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// The `next_cursor` of the previous page (opaque: only cursors this service issued).
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A category in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct Category {
    /// The category's slug, as products name it.
    pub name: String,
    /// How many products are in the category (at least 1).
    pub product_count: i64,
}

/// The documents' examples, built from the response types so that they are what is served.
mod examples {
    use std::collections::BTreeMap;

    use uuid::uuid;

    use super::{AttributeValue, Price, ProductPage, ProductResponse};

    fn attributes(pairs: &[(&str, AttributeValue)]) -> BTreeMap<String, AttributeValue> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect()
    }

    fn euros(amount_minor: i64) -> Price {
        Price { amount_minor, currency: "EUR".into() }
    }

    pub fn skillet() -> ProductResponse {
        ProductResponse {
            id: uuid!("019593fa-5d95-7c4e-8a1f-3b6d9e2c7a10"),
            sku: "KIT-0001".into(),
            name: "Cast-Iron Skillet 26 cm".into(),
            description: "Pre-seasoned cast-iron skillet with a helper handle and twin pouring lips.".into(),
            price: euros(3499),
            category: "kitchen".into(),
            image: Some("/images/products/kit-0001.jpg".into()),
            attributes: attributes(&[
                ("diameter_cm", AttributeValue::Integer(26)),
                ("dishwasher_safe", AttributeValue::Flag(false)),
                ("material", AttributeValue::Text("cast iron".into())),
                ("weight_g", AttributeValue::Integer(2300)),
            ]),
            version: 3,
            created_at: "2025-03-14T09:26:53.589412Z".into(),
            updated_at: "2025-05-02T16:41:07.305118Z".into(),
        }
    }

    fn saucepan() -> ProductResponse {
        ProductResponse {
            id: uuid!("019593fa-9e20-7d51-b3c8-0e4f7a9d1b26"),
            sku: "KIT-0002".into(),
            name: "Stainless Steel Saucepan 2 L with Lid".into(),
            description: "Tri-ply stainless saucepan with an aluminium core for fast, even heating.".into(),
            price: euros(4299),
            category: "kitchen".into(),
            image: None,
            attributes: attributes(&[
                ("capacity_ml", AttributeValue::Integer(2000)),
                ("dishwasher_safe", AttributeValue::Flag(true)),
                ("induction_compatible", AttributeValue::Flag(true)),
            ]),
            version: 1,
            created_at: "2025-03-14T09:27:10.112734Z".into(),
            updated_at: "2025-03-14T09:27:10.112734Z".into(),
        }
    }

    pub fn page() -> ProductPage {
        ProductPage {
            items: vec![skillet(), saucepan()],
            next_cursor: Some("YTowMTk1OTNmYS05ZTIwLTdkNTEtYjNjOC0wZTRmN2E5ZDFiMjY".into()),
        }
    }
}

/// List products, optionally filtered by category and searched by text.
#[utoipa::path(get, path = "/api/v1/catalog/products", tag = "catalog", params(ListParams),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "A page of products", body = ProductPage),
    responses::InvalidParameter,
    responses::Unauthenticated,
))]
async fn list_products(
    State(state): State<AppState>,
    _anyone: Option<Caller>,
    Query(params): Query<ListParams>,
) -> Result<Json<ProductPage>, Problem> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::invalid_parameter("limit", "must be between 1 and 100"));
    }
    let terms = match params.q.as_deref() {
        Some(q) => search::query_terms(q).map_err(|v| Problem::invalid_parameter(&v.field, &v.message))?,
        None => Vec::new(),
    };
    let after = match params.cursor.as_deref() {
        None => None,
        Some(text) => {
            let cursor = Cursor::decode(text)
                .ok_or_else(|| Problem::invalid_parameter("cursor", "is not a cursor this API issued"))?;
            let fits = matches!((&cursor, terms.is_empty()), (Cursor::After(_), true) | (Cursor::Ranked { .. }, false));
            if !fits {
                return Err(Problem::invalid_parameter(
                    "cursor",
                    "belongs to a different kind of listing (with or without q)",
                ));
            }
            Some(cursor)
        }
    };
    let filter = ListFilter { category: params.category, terms, after, limit: limit + 1 };
    let mut listed = store::list(state.db.pool(), &filter).await?;
    let next_cursor = if listed.len() > limit as usize {
        listed.truncate(limit as usize);
        listed.last().map(|last| match last.score {
            Some(score) => Cursor::Ranked { score, id: last.product.id }.encode(),
            None => Cursor::After(last.product.id).encode(),
        })
    } else {
        None
    };
    Ok(Json(ProductPage { items: listed.iter().map(|l| ProductResponse::from(&l.product)).collect(), next_cursor }))
}

/// Create a product (admin). Send an `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/catalog/products", tag = "catalog", request_body = ProductRequest,
    params(idempotency::OptionalKey),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ProductResponse, headers(("Location" = String), ("ETag" = String))),
        responses::Unauthenticated,
        responses::NotAdmin,
        (status = 409, description = "The SKU is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The product is not valid", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_product(
    Admin(caller): Admin,
    State(state): State<AppState>,
    key: Option<IdempotencyKey>,
    Json(request): Json<ProductRequest>,
) -> Result<Response, Problem> {
    // Keys are per caller: two admins who happen to pick the same key do not collide.
    let scope = format!("{CREATE_SCOPE}:{}", caller.subject);
    let fingerprint = idempotency::fingerprint(&request);
    let draft = product::validate(request.into_input()).map_err(validation_problem)?;
    let now = OffsetDateTime::now_utc();
    let product = Product::new(Uuid::now_v7(), draft, now);

    let mut work = state.begin().await?;
    if let Some(key) = &key
        && let Claim::Replay(stored) =
            idempotency::claim(&mut work, &scope, key, &fingerprint, &store::timestamp(now)).await?
    {
        return Ok(stored.into_response());
    }
    store::insert(&mut work, &product).await?;
    work.publish(&events::created(&product)).await?;
    let body = ProductResponse::from(&product);
    let headers = product_headers(&product, true);
    if let Some(key) = &key {
        let stored = StoredResponse::json(StatusCode::CREATED, &body, &headers);
        idempotency::remember(&mut work, &scope, key, &stored).await?;
    }
    work.commit().await?;
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

/// Get one product. Answers 304 to a matching `If-None-Match`.
#[utoipa::path(get, path = "/api/v1/catalog/products/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Product id")),
    security((), ("bearer" = [])),
    responses(
        responses::Unauthenticated,
        (status = 200, description = "The product", body = ProductResponse, headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_product(
    State(state): State<AppState>,
    _anyone: Option<Caller>,
    Path(id): Path<Uuid>,
    request_headers: HeaderMap,
) -> Result<Response, Problem> {
    let product = store::get(state.db.pool(), id).await?.ok_or_else(|| not_found(id))?;
    let headers = product_headers(&product, false);
    let unchanged = request_headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == product.etag())
    });
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    Ok((headers, Json(ProductResponse::from(&product))).into_response())
}

/// Replace a product (admin). Requires `If-Match` with the ETag last read, so no update is lost.
#[utoipa::path(put, path = "/api/v1/catalog/products/{id}", tag = "catalog", request_body = ProductRequest,
    params(("id" = Uuid, Path, description = "Product id"), ("If-Match" = String, Header, description = "The ETag last read")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = ProductResponse, headers(("ETag" = String))),
        responses::Unauthenticated,
        responses::NotAdmin,
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another product has this SKU", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
        (status = 422, description = "The product is not valid", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionRequired,
    ))]
async fn replace_product(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    request_headers: HeaderMap,
    Json(request): Json<ProductRequest>,
) -> Result<Response, Problem> {
    let if_match = request_headers
        .get(header::IF_MATCH)
        .ok_or_else(|| Problem::new(ProblemKind::PreconditionRequired))?
        .to_str()
        .map_err(|_| Problem::invalid_parameter("If-Match", "must be ASCII"))?
        .to_owned();
    let draft = product::validate(request.into_input()).map_err(validation_problem)?;
    let mut work = state.begin().await?;
    let precondition = Precondition::IfMatch(if_match);
    let outcome = store::replace(&mut work, id, &precondition, draft, OffsetDateTime::now_utc()).await?;
    let (before, product) = match outcome {
        Outcome::Done(replaced) => replaced,
        Outcome::NotFound => return Err(not_found(id)),
        Outcome::Stale { .. } => return Err(Problem::new(ProblemKind::PreconditionFailed)),
    };
    work.publish(&events::updated(&product)).await?;
    if let Some(change) = events::price_changed(&before, &product) {
        work.publish(&change).await?;
    }
    work.commit().await?;
    Ok((product_headers(&product, false), Json(ProductResponse::from(&product))).into_response())
}

/// Delete a product (admin). With `If-Match`, only if it is unchanged.
#[utoipa::path(delete, path = "/api/v1/catalog/products/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Product id"), ("If-Match" = Option<String>, Header, description = "Delete only this version")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        responses::Unauthenticated,
        responses::NotAdmin,
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
    ))]
async fn delete_product(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    request_headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let precondition = match request_headers.get(header::IF_MATCH) {
        None => Precondition::None,
        Some(value) => Precondition::IfMatch(
            value.to_str().map_err(|_| Problem::invalid_parameter("If-Match", "must be ASCII"))?.to_owned(),
        ),
    };
    let mut work = state.begin().await?;
    let deleted = match store::delete(&mut work, id, &precondition).await? {
        Outcome::Done(deleted) => deleted,
        Outcome::NotFound => return Err(not_found(id)),
        Outcome::Stale { .. } => return Err(Problem::new(ProblemKind::PreconditionFailed)),
    };
    work.publish(&events::deleted(&deleted)).await?;
    work.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The categories in use, with how many products each has.
#[utoipa::path(get, path = "/api/v1/catalog/categories", tag = "catalog", security((), ("bearer" = [])), responses(
    (status = 200, description = "Categories in name order", body = Vec<Category>, example = json!([
        {"name": "garden", "product_count": 15},
        {"name": "kitchen", "product_count": 15},
        {"name": "lighting", "product_count": 12}
    ])),
    responses::Unauthenticated,
))]
async fn list_categories(
    State(state): State<AppState>,
    _anyone: Option<Caller>,
) -> Result<Json<Vec<Category>>, Problem> {
    let categories = store::categories(state.db.pool()).await?;
    Ok(Json(categories.into_iter().map(|(name, product_count)| Category { name, product_count }).collect()))
}

fn product_headers(product: &Product, with_location: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(etag) = HeaderValue::from_str(&product.etag()) {
        headers.insert(header::ETAG, etag);
    }
    if with_location && let Ok(location) = HeaderValue::from_str(&format!("{PRODUCTS}/{}", product.id)) {
        headers.insert(header::LOCATION, location);
    }
    headers
}

fn validation_problem(violations: Vec<Violation>) -> Problem {
    Problem::validation(violations.into_iter().map(|v| FieldViolation::new(v.field, v.message)).collect())
}

fn not_found(id: Uuid) -> Problem {
    Problem::not_found(format!("no product has id {id}"))
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::DuplicateSku(sku) => {
                Problem::new(ProblemKind::Conflict).with_detail(format!("a product with SKU {sku} already exists"))
            }
            StoreError::Database(error) => Problem::database(&error),
        }
    }
}
