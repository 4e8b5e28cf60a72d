//! The shipping HTTP API: `/api/v1/shipping/...`. A customer tracks their own shipments; admins
//! see every one. Shipments are made and moved only by messages, so the API only reads.
//! Handlers translate between HTTP and the domain; the rules live in `domain`, the SQL in `store`.

use axum::extract::State;
use flotilla_chassis::Problem;
use flotilla_chassis::auth::{Admin, Caller, roles};
use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::extract::{Json, Path, Query};
use flotilla_chassis::page;
use flotilla_chassis::problem::responses;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::shipment::Status;
use crate::store::{self, Record, ShipTo, Shipment, TrackingEvent};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

#[derive(OpenApi)]
#[openapi(
    info(title = "Flotilla shipping", description = "Shipments of confirmed orders, and where they are."),
    tags((name = "shipping", description = "Shipments and their tracking")),
)]
struct ApiDoc;

#[derive(Clone)]
struct AppState {
    db: Database,
}

pub fn router(db: Database) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(get_shipment))
        .routes(routes!(list_shipments))
        .with_state(AppState { db })
}

/// Where a shipment is. The carrier's steps come in this order; `cancelled` only ever follows
/// `label_created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    LabelCreated,
    Dispatched,
    InTransit,
    OutForDelivery,
    Delivered,
    Cancelled,
}

impl From<Status> for TrackingStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::LabelCreated => Self::LabelCreated,
            Status::Dispatched => Self::Dispatched,
            Status::InTransit => Self::InTransit,
            Status::OutForDelivery => Self::OutForDelivery,
            Status::Delivered => Self::Delivered,
            Status::Cancelled => Self::Cancelled,
        }
    }
}

/// Where a shipment goes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipToAddress {
    /// Who receives the parcel.
    pub name: String,
    /// The street and house number.
    pub line1: String,
    /// More of the address (flat, floor, building); null when there is none.
    pub line2: Option<String>,
    /// The city or town.
    pub city: String,
    /// The postal code as the country writes it.
    pub postal_code: String,
    /// The country, as its ISO 3166-1 alpha-2 code.
    #[schema(example = "GB")]
    pub country: String,
}

impl From<&ShipTo> for ShipToAddress {
    fn from(to: &ShipTo) -> Self {
        Self {
            name: to.name.clone(),
            line1: to.line1.clone(),
            line2: to.line2.clone(),
            city: to.city.clone(),
            postal_code: to.postal_code.clone(),
            country: to.country.clone(),
        }
    }
}

/// A status the shipment entered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrackingEntry {
    pub status: TrackingStatus,
    /// When (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub at: String,
}

impl From<&TrackingEvent> for TrackingEntry {
    fn from(event: &TrackingEvent) -> Self {
        Self { status: event.status.into(), at: timestamp(event.at) }
    }
}

/// An order's shipment with its tracking history.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = examples::shipment)]
pub struct ShipmentResponse {
    /// The shipment's id.
    pub shipment_id: Uuid,
    /// The order it ships.
    pub order_id: Uuid,
    pub status: TrackingStatus,
    /// Who carries the parcel.
    #[schema(example = "Flotilla Post")]
    pub carrier: String,
    /// UPU S10 shaped: two letters, eight digits, a check digit, two letters.
    #[schema(example = "FP473124829GB")]
    pub tracking_number: String,
    pub ship_to: ShipToAddress,
    /// Every status it entered, oldest first.
    pub history: Vec<TrackingEntry>,
    /// When its label was created (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A shipment in the admin list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentSummary {
    /// The shipment's id.
    pub shipment_id: Uuid,
    /// The order it ships.
    pub order_id: Uuid,
    /// The customer the order is for.
    pub customer_id: String,
    pub status: TrackingStatus,
    /// Who carries the parcel.
    pub carrier: String,
    /// The carrier's tracking number: two letters, eight digits, a check digit, two letters.
    pub tracking_number: String,
    /// When its label was created (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When it last changed status (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Shipment> for ShipmentSummary {
    fn from(shipment: &Shipment) -> Self {
        Self {
            shipment_id: shipment.shipment_id,
            order_id: shipment.order_id,
            customer_id: shipment.customer_id.clone(),
            status: shipment.status.into(),
            carrier: shipment.carrier.clone(),
            tracking_number: shipment.tracking_number.clone(),
            created_at: timestamp(shipment.created_at),
            updated_at: timestamp(shipment.updated_at),
        }
    }
}

/// A page of shipments, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = examples::page)]
pub struct ShipmentPage {
    /// Shipments without their addresses and histories.
    pub items: Vec<ShipmentSummary>,
    /// Pass as `after` for the next page; null on the last one.
    pub next_after: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only shipments with this status.
    #[param(value_type = Option<TrackingStatus>)]
    pub status: Option<String>,
    /// The last `shipment_id` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// An order's shipment and where it is: the customer's own, or any for an admin.
#[utoipa::path(get, path = "/api/v1/shipping/shipments/{order_id}", tag = "shipping",
    params(("order_id" = Uuid, Path, description = "The order the shipment is for")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The shipment and its history", body = ShipmentResponse),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "The shipment is someone else's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No shipment for this order", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_shipment(
    caller: Caller,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<ShipmentResponse>, Problem> {
    let mut conn = state.db.pool().acquire().await?;
    let shipment = store::record(&mut conn, order_id)
        .await?
        .and_then(Record::into_shipment)
        .ok_or_else(|| Problem::not_found(format!("no shipment for order {order_id}")))?;
    caller.require_owner(&shipment.customer_id, Some(roles::ADMIN))?;
    let history = store::history(&mut conn, shipment.shipment_id).await?;
    Ok(Json(ShipmentResponse {
        shipment_id: shipment.shipment_id,
        order_id: shipment.order_id,
        status: shipment.status.into(),
        ship_to: ShipToAddress::from(&shipment.ship_to),
        carrier: shipment.carrier,
        tracking_number: shipment.tracking_number,
        history: history.iter().map(TrackingEntry::from).collect(),
        created_at: timestamp(shipment.created_at),
    }))
}

/// Every shipment, oldest first, optionally of one status (admin).
#[utoipa::path(get, path = "/api/v1/shipping/shipments", tag = "shipping", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of shipments", body = ShipmentPage),
        responses::InvalidParameter,
        responses::Unauthenticated,
        responses::NotAdmin,
    ))]
async fn list_shipments(
    _admin: Admin,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<ShipmentPage>, Problem> {
    let limit = page::limit(params.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let status = params
        .status
        .as_deref()
        .map(|text| {
            Status::parse(text).ok_or_else(|| {
                Problem::invalid_parameter(
                    "status",
                    "must be one of label_created, dispatched, in_transit, out_for_delivery, delivered, cancelled",
                )
            })
        })
        .transpose()?;
    let after = params
        .after
        .as_deref()
        .map(|text| Uuid::parse_str(text).map_err(|_| Problem::invalid_parameter("after", "must be a shipment id")))
        .transpose()?;
    let mut conn = state.db.pool().acquire().await?;
    let rows = store::list(&mut conn, status, after, page::fetch(limit)).await?;
    let (shipments, next_after) = page::split(rows, limit, |shipment| shipment.shipment_id);
    Ok(Json(ShipmentPage { items: shipments.iter().map(ShipmentSummary::from).collect(), next_after }))
}

/// The documents' examples: the parcel of an order placed at 09:26 on its way, and one delivered.
mod examples {
    use uuid::{Uuid, uuid};

    use super::{ShipToAddress, ShipmentPage, ShipmentResponse, ShipmentSummary, TrackingEntry, TrackingStatus};

    const SHIPMENT: Uuid = uuid!("0195b7f0-8d47-7c3a-b2e6-0f4a9c1d8e35");
    const ORDER: Uuid = uuid!("0195b7f0-8a3c-7b21-a4d5-3e9c7f1b2a60");

    fn entry(status: TrackingStatus, at: &str) -> TrackingEntry {
        TrackingEntry { status, at: at.into() }
    }

    /// A shipment in transit.
    pub fn shipment() -> ShipmentResponse {
        ShipmentResponse {
            shipment_id: SHIPMENT,
            order_id: ORDER,
            status: TrackingStatus::InTransit,
            carrier: "Flotilla Post".into(),
            tracking_number: "FP473124829GB".into(),
            ship_to: ShipToAddress {
                name: "Ada Lovelace".into(),
                line1: "12 St James's Square".into(),
                line2: None,
                city: "London".into(),
                postal_code: "SW1Y 4JH".into(),
                country: "GB".into(),
            },
            history: vec![
                entry(TrackingStatus::LabelCreated, "2025-03-14T09:26:54.530218Z"),
                entry(TrackingStatus::Dispatched, "2025-03-14T09:27:04.551907Z"),
                entry(TrackingStatus::InTransit, "2025-03-14T09:27:09.563140Z"),
            ],
            created_at: "2025-03-14T09:26:54.530218Z".into(),
        }
    }

    /// A page of two: one delivered, the one in transit, and more to come.
    pub fn page() -> ShipmentPage {
        let delivered = ShipmentSummary {
            shipment_id: uuid!("0195b29c-3e71-7a05-9d18-6c2b4f0e7a93"),
            order_id: uuid!("0195b29c-0b5f-7e82-a3c9-8d1e6f2a4b07"),
            customer_id: "0195a87d-2f90-7b46-8e1c-5a3d7b9f0c21".into(),
            status: TrackingStatus::Delivered,
            carrier: "Flotilla Post".into(),
            tracking_number: "FP000000014GB".into(),
            created_at: "2025-03-13T08:14:22.107395Z".into(),
            updated_at: "2025-03-13T08:14:47.162804Z".into(),
        };
        let in_transit = ShipmentSummary {
            shipment_id: SHIPMENT,
            order_id: ORDER,
            customer_id: "0195b7e2-4c1a-7d3e-9f20-6a8b4c2d1e0f".into(),
            status: TrackingStatus::InTransit,
            carrier: "Flotilla Post".into(),
            tracking_number: "FP473124829GB".into(),
            created_at: "2025-03-14T09:26:54.530218Z".into(),
            updated_at: "2025-03-14T09:27:09.563140Z".into(),
        };
        ShipmentPage { items: vec![delivered, in_transit], next_after: Some(SHIPMENT) }
    }
}
