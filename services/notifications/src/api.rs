//! The notifications HTTP API: `/api/v1/notifications/...`. A customer reads the notifications of
//! their own orders, an admin anyone's and what the mail sink received. Handlers translate between
//! HTTP and the domain; the SQL is in `store`.

use axum::extract::State;
use flotilla_chassis::Problem;
use flotilla_chassis::auth::{Admin, Caller, roles};
use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::extract::{Json, Path};
use flotilla_chassis::problem::responses;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::notification::{Milestone, Status};
use crate::store::{self, Notification, SinkMessage};

#[derive(OpenApi)]
#[openapi(
    info(title = "Flotilla notifications", description = "Mail to customers at their orders' milestones."),
    tags((name = "notifications", description = "Order notifications and the development mail sink")),
)]
struct ApiDoc;

#[derive(Clone)]
struct AppState {
    db: Database,
    sink_enabled: bool,
}

pub fn router(db: Database, sink_enabled: bool) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(order_notifications))
        .routes(routes!(sink_messages))
        .with_state(AppState { db, sink_enabled })
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MilestoneName {
    Confirmed,
    Rejected,
    Cancelled,
    Shipped,
}

impl From<Milestone> for MilestoneName {
    fn from(milestone: Milestone) -> Self {
        match milestone {
            Milestone::Confirmed => Self::Confirmed,
            Milestone::Rejected => Self::Rejected,
            Milestone::Cancelled => Self::Cancelled,
            Milestone::Shipped => Self::Shipped,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet accepted by the relay: waiting for its first or next attempt.
    Pending,
    /// Accepted by the relay.
    Sent,
    /// Given up on.
    Failed,
}

impl From<Status> for DeliveryStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => Self::Pending,
            Status::Sent => Self::Sent,
            Status::Failed => Self::Failed,
        }
    }
}

/// One mail about an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationResponse {
    pub milestone: MilestoneName,
    #[schema(example = "ada@example.com")]
    pub recipient: String,
    pub subject: String,
    pub status: DeliveryStatus,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the relay accepted it.
    #[schema(format = DateTime)]
    pub sent_at: Option<String>,
    /// Why the last attempt failed; shown to admins only (it describes the mail system).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl NotificationResponse {
    fn of(notification: &Notification, admin: bool) -> Self {
        Self {
            milestone: notification.milestone.into(),
            recipient: notification.recipient.clone(),
            subject: notification.subject.clone(),
            status: notification.status.into(),
            attempts: notification.attempts,
            sent_at: notification.sent_at.map(timestamp),
            last_error: admin.then(|| notification.last_error.clone()).flatten(),
        }
    }
}

/// A message the mail sink received.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SinkMessageResponse {
    /// The envelope sender (`MAIL FROM`); empty for the null sender.
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    /// The text, decoded from its transfer encoding.
    pub body: String,
    #[schema(format = DateTime)]
    pub received_at: String,
}

impl From<SinkMessage> for SinkMessageResponse {
    fn from(message: SinkMessage) -> Self {
        Self {
            from: message.from,
            to: message.to,
            subject: message.subject,
            message_id: message.message_id,
            body: message.body,
            received_at: timestamp(message.received_at),
        }
    }
}

/// The notifications of an order, in the order they were recorded: the order's customer's own,
/// or any order's for an admin.
#[utoipa::path(get, path = "/api/v1/notifications/orders/{order_id}", tag = "notifications",
    params(("order_id" = Uuid, Path, description = "The order")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order's notifications", body = [NotificationResponse]),
        responses::InvalidParameter,
        responses::Unauthenticated,
        (status = 403, description = "The order is someone else's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No notification exists for this order", body = Problem, content_type = "application/problem+json"),
    ))]
async fn order_notifications(
    caller: Caller,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Vec<NotificationResponse>>, Problem> {
    let notifications = store::for_order(state.db.pool(), order_id).await?;
    let Some(first) = notifications.first() else {
        return Err(Problem::not_found(format!("no notification exists for order {order_id}")));
    };
    // Every notification of an order is for the order's one customer.
    caller.require_owner(&first.customer_id, Some(roles::ADMIN))?;
    let admin = caller.has_role(roles::ADMIN);
    Ok(Json(notifications.iter().map(|n| NotificationResponse::of(n, admin)).collect()))
}

/// What the mail sink received, oldest first (admin; the sink keeps the newest
/// `services.notifications.sink.max_messages`).
#[utoipa::path(get, path = "/api/v1/notifications/sink/messages", tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The messages", body = [SinkMessageResponse]),
        responses::Unauthenticated,
        responses::NotAdmin,
        (status = 404, description = "The mail sink is not enabled", body = Problem, content_type = "application/problem+json"),
    ))]
async fn sink_messages(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<SinkMessageResponse>>, Problem> {
    if !state.sink_enabled {
        return Err(Problem::not_found("the mail sink is not enabled (services.notifications.sink.enabled)"));
    }
    let messages = store::sink_messages(state.db.pool()).await?;
    Ok(Json(messages.into_iter().map(SinkMessageResponse::from).collect()))
}
