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

/// What happened to the order that the mail tells: it was confirmed (paid for, to be shipped),
/// rejected, cancelled, or shipped.
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

/// Where a mail is on its way to the customer.
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
    /// The address it is sent to: the contact address given at checkout.
    #[schema(example = "ada@example.com")]
    pub recipient: String,
    /// The mail's subject line.
    pub subject: String,
    pub status: DeliveryStatus,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the relay accepted it (RFC 3339, UTC); null until it did.
    #[schema(format = DateTime)]
    pub sent_at: Option<String>,
    /// Why the last attempt failed; shown to admins only (it describes the mail system), and left
    /// out when no attempt failed or once the mail is sent.
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
    /// The `Subject` header, decoded; null when the message has none.
    pub subject: Option<String>,
    /// The `Message-ID` header; null when the message has none.
    pub message_id: Option<String>,
    /// The text, decoded from its transfer encoding.
    pub body: String,
    /// When the sink received it (RFC 3339, UTC).
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
        (status = 200, description = "The order's notifications", body = [NotificationResponse], examples(
            ("customer" = (summary = "As the order's customer sees them", value = json!(examples::notifications(false)))),
            ("admin" = (summary = "As an admin sees them, with why an attempt failed", value = json!(examples::notifications(true)))),
        )),
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
        (status = 200, description = "The messages", body = [SinkMessageResponse], example = json!(examples::sink_messages())),
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

/// The documents' examples: the mails about an order of a skillet and a knife (94.98 EUR),
/// confirmed and then shipped while the relay was slow to answer.
mod examples {
    use super::{DeliveryStatus, MilestoneName, NotificationResponse, SinkMessageResponse};

    const ORDER: &str = "0195b7f0-8a3c-7b21-a4d5-3e9c7f1b2a60";

    /// The order's mails; `last_error` only in an admin's view.
    pub fn notifications(admin: bool) -> Vec<NotificationResponse> {
        vec![
            NotificationResponse {
                milestone: MilestoneName::Confirmed,
                recipient: "ada@example.com".into(),
                subject: format!("Your order {ORDER} is confirmed"),
                status: DeliveryStatus::Sent,
                attempts: 1,
                sent_at: Some("2025-03-14T09:26:55.012874Z".into()),
                last_error: None,
            },
            NotificationResponse {
                milestone: MilestoneName::Shipped,
                recipient: "ada@example.com".into(),
                subject: format!("Your order {ORDER} has shipped"),
                status: DeliveryStatus::Pending,
                attempts: 1,
                sent_at: None,
                last_error: admin.then(|| "no answer from the relay within 30000 ms".into()),
            },
        ]
    }

    /// The confirmation as the development mail sink received it.
    pub fn sink_messages() -> Vec<SinkMessageResponse> {
        vec![SinkMessageResponse {
            from: "orders@flotilla.localhost".into(),
            to: vec!["ada@example.com".into()],
            subject: Some(format!("Your order {ORDER} is confirmed")),
            message_id: Some(format!("<order-confirmed.{ORDER}@flotilla.localhost>")),
            body: format!(
                "Hello,\n\nyour order {ORDER} is confirmed:\nit is paid for and will be shipped soon.\n\n\
                 \x20 1 x Cast-Iron Skillet 26 cm (KIT-0001) at 34.99 EUR: 34.99 EUR\n\
                 \x20 1 x Chef's Knife 20 cm (KIT-0003) at 59.99 EUR: 59.99 EUR\n\
                 \nTotal: 94.98 EUR\n\nThank you for shopping with Flotilla.\n"
            ),
            received_at: "2025-03-14T09:26:55.009316Z".into(),
        }]
    }
}
