//! HTTP endpoints every publishing or consuming service gets: the JSON Schemas of the messages it
//! publishes (`/events`), and dead-letter administration for the operations console
//! (`/admin/dead-letters`, admin role only).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use flotilla_chassis::db::Database;
use flotilla_chassis::extract::{Json, Path, Query};
use flotilla_chassis::{Problem, ProblemKind};
use flotilla_contracts::MessageInfo;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::dead_letters::{self, DeadLetter, Selector};

#[derive(Clone)]
struct EventsState {
    publishes: Arc<[MessageInfo]>,
}

#[derive(Clone)]
struct AdminState {
    db: Database,
}

pub(crate) fn router(db: Database, publishes: Vec<MessageInfo>) -> OpenApiRouter {
    let events = OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(event_schema))
        .with_state(EventsState { publishes: publishes.into() });
    let admin = OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(get_dead_letter, discard_dead_letter))
        .routes(routes!(replay_dead_letter))
        .routes(routes!(replay_dead_letters))
        .routes(routes!(discard_dead_letters))
        .route_layer(axum::middleware::from_fn(flotilla_chassis::auth::admin_only))
        .with_state(AdminState { db });
    events.merge(admin)
}

/// A message type this service publishes.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "flotilla.catalog.product-created.v1",
    "summary": "A product was added to the catalogue",
    "schema": "/events/flotilla.catalog.product-created.v1/schema"
}))]
struct PublishedEvent {
    /// The CloudEvents `type`; its last segment is the contract's major version.
    #[schema(example = "flotilla.catalog.product-created.v1")]
    r#type: String,
    /// What happened when this message is published.
    summary: String,
    /// Where its JSON Schema is served.
    schema: String,
}

/// The messages this service publishes.
#[utoipa::path(get, path = "/events", tag = "events", security(()),
    responses((status = 200, description = "Published message types", body = [PublishedEvent])))]
async fn list_events(State(state): State<EventsState>) -> Json<Vec<PublishedEvent>> {
    Json(
        state
            .publishes
            .iter()
            .map(|info| PublishedEvent {
                r#type: info.message_type.to_owned(),
                summary: info.summary.to_owned(),
                schema: format!("/events/{}/schema", info.message_type),
            })
            .collect(),
    )
}

/// The JSON Schema (draft-07) of one published message type.
#[utoipa::path(get, path = "/events/{type}/schema", tag = "events", security(()),
    params(("type" = String, Path, description = "CloudEvents type")),
    responses(
        (status = 200, description = "The JSON Schema", body = Object, example = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "ProductCreatedV1",
            "type": "object",
            "required": ["product_id", "sku"],
            "properties": {"product_id": {"type": "string", "format": "uuid"}, "sku": {"type": "string"}}
        })),
        (status = 404, description = "This service does not publish that type", body = Problem, content_type = "application/problem+json"),
    ))]
async fn event_schema(
    State(state): State<EventsState>,
    Path(message_type): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    state
        .publishes
        .iter()
        .find(|info| info.message_type == message_type)
        .map(|info| Json(info.schema.clone()))
        .ok_or_else(|| Problem::not_found(format!("this service does not publish {message_type}")))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeadLetterQuery {
    /// Only this consumer's (`<service>.<consumer>`).
    consumer: Option<String>,
    /// At most this many, oldest first (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Dead letters, oldest first.
#[utoipa::path(get, path = "/admin/dead-letters", tag = "dead-letters", security(("bearer" = [])), params(DeadLetterQuery),
    responses(
        (status = 200, description = "Dead letters", body = [DeadLetter]),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_dead_letters(
    State(state): State<AdminState>,
    Query(query): Query<DeadLetterQuery>,
) -> Result<Json<Vec<DeadLetter>>, Problem> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::new(ProblemKind::InvalidParameter).with_detail("limit must be between 1 and 1000"));
    }
    let letters = dead_letters::list(&state.db, query.consumer.as_deref(), limit).await?;
    Ok(Json(letters))
}

/// One dead letter, with its message.
#[utoipa::path(get, path = "/admin/dead-letters/{id}", tag = "dead-letters", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Dead letter id")),
    responses(
        (status = 200, description = "The dead letter", body = DeadLetter),
        (status = 404, description = "No such dead letter", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_dead_letter(State(state): State<AdminState>, Path(id): Path<Uuid>) -> Result<Json<DeadLetter>, Problem> {
    dead_letters::get(&state.db, id).await?.map(Json).ok_or_else(|| Problem::not_found(format!("no dead letter {id}")))
}

/// How many dead letters an operation touched.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"affected": 3}))]
struct Affected {
    /// The number of dead letters replayed or discarded.
    affected: u64,
}

/// Which dead letters a bulk operation means: one consumer's, or all of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkSelection {
    consumer: Option<String>,
    /// Must be true to select every dead letter of every consumer.
    #[serde(default)]
    all: bool,
}

/// Either a consumer or `all: true`, said so that a client's generator cannot build the
/// request that is refused (both, or neither).
impl utoipa::PartialSchema for BulkSelection {
    fn schema() -> RefOr<Schema> {
        let flag = |value: bool| ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([value]));
        let one = ObjectBuilder::new()
            .property(
                "consumer",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("Every dead letter of this consumer (`<service>.<consumer>`).")),
            )
            .required("consumer")
            .property("all", flag(false))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let all = ObjectBuilder::new()
            .property("all", flag(true).description(Some("Every dead letter of every consumer.")))
            .required("all")
            .property("consumer", ObjectBuilder::new().schema_type(Type::Null))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new()
            .item(one)
            .item(all)
            .description(Some("Which dead letters a bulk operation means: one consumer's, or all of them."))
            .into()
    }
}

impl ToSchema for BulkSelection {}

impl BulkSelection {
    fn selector(self) -> Result<Selector, Problem> {
        match (self.consumer, self.all) {
            (Some(consumer), false) => Ok(Selector::Consumer(consumer)),
            (None, true) => Ok(Selector::All),
            _ => Err(Problem::new(ProblemKind::Validation)
                .with_detail("give either \"consumer\" or \"all\": true, not both and not neither")),
        }
    }
}

/// Asks the owning consumer to handle a dead letter again (same message id).
#[utoipa::path(post, path = "/admin/dead-letters/{id}/replay", tag = "dead-letters", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Dead letter id")),
    responses(
        (status = 202, description = "Replay requested", body = Affected),
        (status = 404, description = "No such dead letter waiting", body = Problem, content_type = "application/problem+json"),
    ))]
async fn replay_dead_letter(
    State(state): State<AdminState>,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<Affected>), Problem> {
    let affected = dead_letters::request_replay(&state.db, &Selector::One(id)).await?;
    if affected == 0 {
        return Err(Problem::not_found(format!("no dead letter {id} waiting for replay")));
    }
    Ok((StatusCode::ACCEPTED, Json(Affected { affected })))
}

/// Deletes a dead letter for good.
#[utoipa::path(delete, path = "/admin/dead-letters/{id}", tag = "dead-letters", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Dead letter id")),
    responses(
        (status = 204, description = "Discarded"),
        (status = 404, description = "No such dead letter", body = Problem, content_type = "application/problem+json"),
    ))]
async fn discard_dead_letter(State(state): State<AdminState>, Path(id): Path<Uuid>) -> Result<StatusCode, Problem> {
    let affected = dead_letters::discard(&state.db, &Selector::One(id)).await?;
    if affected == 0 {
        return Err(Problem::not_found(format!("no dead letter {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Asks for a replay of one consumer's dead letters, or of all.
#[utoipa::path(post, path = "/admin/dead-letters/replay", tag = "dead-letters", security(("bearer" = [])), request_body = BulkSelection,
    responses(
        (status = 202, description = "Replay requested", body = Affected),
        (status = 422, description = "Neither or both of consumer and all", body = Problem, content_type = "application/problem+json"),
    ))]
async fn replay_dead_letters(
    State(state): State<AdminState>,
    Json(selection): Json<BulkSelection>,
) -> Result<(StatusCode, Json<Affected>), Problem> {
    let selector = selection.selector()?;
    let affected = dead_letters::request_replay(&state.db, &selector).await?;
    Ok((StatusCode::ACCEPTED, Json(Affected { affected })))
}

/// Deletes one consumer's dead letters, or all.
#[utoipa::path(post, path = "/admin/dead-letters/discard", tag = "dead-letters", security(("bearer" = [])), request_body = BulkSelection,
    responses(
        (status = 200, description = "Discarded", body = Affected),
        (status = 422, description = "Neither or both of consumer and all", body = Problem, content_type = "application/problem+json"),
    ))]
async fn discard_dead_letters(
    State(state): State<AdminState>,
    Json(selection): Json<BulkSelection>,
) -> Result<Json<Affected>, Problem> {
    let selector = selection.selector()?;
    let affected = dead_letters::discard(&state.db, &selector).await?;
    Ok(Json(Affected { affected }))
}
