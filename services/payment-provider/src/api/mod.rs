//! The simulated processor's HTTP API under `/v1`, shaped like a card processor's (Stripe's):
//! JSON bodies, `Authorization: Bearer <api key>`, `Idempotency-Key` on every POST, and our own
//! problem documents for errors. Handlers translate between HTTP and the domain; the rules live
//! in `domain`, the SQL in `store`.

mod auth;
mod body;
mod faults;
mod idempotent;
mod intents;
mod problems;
mod refunds;

use std::sync::Arc;

use axum::middleware;
use flotilla_chassis::db::Database;
use secrecy::SecretString;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::faults::Faults;

pub use faults::FaultSettings;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flotilla payment-provider simulator",
        description = "A card processor's API, simulated: payment intents with manual capture, refunds, \
                       and fault knobs. Test cards: 4242424242424242 approves, 4000000000000002 declines \
                       (card_declined), 4000000000009995 declines (insufficient_funds), any other 16-digit \
                       Luhn-valid number approves."
    ),
    modifiers(&ApiKeyScheme),
    // Named only by a field whose schema is written by hand (`IntentBody::last_error`).
    components(schemas(intents::LastError)),
    tags(
        (name = "payment-intents", description = "Authorize, capture, cancel and look up payments"),
        (name = "refunds", description = "Give back what was captured"),
        (name = "simulator", description = "Fault knobs for tests"),
    ),
)]
struct ApiDoc;

/// The `api_key` security scheme: a bearer secret that is not a JWT.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("The merchant's secret API key, `Authorization: Bearer <api key>`"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

#[derive(Clone)]
struct AppState {
    db: Database,
    knobs: faults::Knobs,
}

/// The page size of a list: 1 to 100, 10 unless asked.
fn page_size(limit: Option<u32>) -> Result<i64, flotilla_chassis::Problem> {
    match limit.unwrap_or(10) {
        limit @ 1..=100 => Ok(i64::from(limit)),
        _ => Err(flotilla_chassis::Problem::new(flotilla_chassis::ProblemKind::InvalidParameter)
            .with_detail("limit must be between 1 and 100")),
    }
}

pub fn router(db: Database, api_key: Arc<SecretString>, faults: Faults) -> OpenApiRouter {
    let knobs = faults::Knobs::new(faults);
    let state = AppState { db, knobs: knobs.clone() };
    // The fault knobs apply to the simulated API and never to the endpoint that turns them off.
    let simulated = OpenApiRouter::new()
        .routes(routes!(intents::create, intents::list))
        .routes(routes!(intents::retrieve))
        .routes(routes!(intents::capture))
        .routes(routes!(intents::cancel))
        .routes(routes!(refunds::create, refunds::list))
        .route_layer(middleware::from_fn_with_state(knobs, faults::simulate));
    let knob_routes = OpenApiRouter::new().routes(routes!(faults::get_faults, faults::put_faults));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(simulated)
        .merge(knob_routes)
        .route_layer(middleware::from_fn_with_state(auth::ApiKey::new(api_key), auth::require_api_key))
        .with_state(state)
}
