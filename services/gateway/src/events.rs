//! The published language for whoever reads or consumes it, from the one public entry: the
//! system's AsyncAPI document (every message with its examples, who sends and who receives it)
//! and each message's JSON Schema, so that nobody needs the repository to build a consumer.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::Problem;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::GatewayState;

pub fn router() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new().routes(routes!(asyncapi)).routes(routes!(schema))
}

/// The AsyncAPI 3.0 document of every message that crosses a service boundary.
#[utoipa::path(get, path = "/events/asyncapi.json", tag = "events", security(()),
    responses((status = 200, description = "The AsyncAPI document", body = Object)))]
async fn asyncapi() -> Response {
    json(flotilla_contracts::ASYNCAPI_DOCUMENT.to_owned())
}

/// One message type's JSON Schema (draft-07), whoever publishes it.
#[utoipa::path(get, path = "/events/schemas/{type}", tag = "events", security(()),
    params(("type" = String, Path, description = "CloudEvents type, such as flotilla.ordering.order-placed.v1")),
    responses(
        (status = 200, description = "The JSON Schema", body = Object),
        (status = 404, description = "No message has this type", body = Problem, content_type = "application/problem+json"),
    ))]
async fn schema(Path(message_type): Path<String>) -> Result<Response, Problem> {
    let info = flotilla_contracts::find(&message_type)
        .ok_or_else(|| Problem::not_found(format!("no message has the type {message_type}")))?;
    Ok(json(info.schema.to_string()))
}

fn json(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
