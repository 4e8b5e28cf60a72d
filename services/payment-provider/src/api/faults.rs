//! The fault knobs at run time: `GET`/`PUT /v1/simulator/faults`, and the layer that applies
//! them to every simulated call. Kept in memory: they are test controls, and a restart resets
//! them to `services.payment-provider.faults.*`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flotilla_chassis::extract::Json;
use flotilla_chassis::{FieldViolation, Problem};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::problems::{ProviderProblem, responses};
use crate::domain::Violation;
use crate::domain::faults::Faults;

/// The fault knobs, as configured and as `PUT` replaces them: a knob left out is off.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(example = json!({"latency_ms": 250, "error_rate": 0.05, "act_then_timeout": 1, "hang_ms": 5000, "outage": false}))]
pub struct FaultSettings {
    /// Milliseconds added before every simulated call is handled (at most 60000).
    #[schema(example = 0)]
    pub latency_ms: u64,
    /// The share of simulated calls answered 500 without acting, 0 to 1.
    #[schema(example = 0.0)]
    pub error_rate: f64,
    /// The next this many mutating calls act and commit, then answer only after `hang_ms`.
    #[schema(example = 0)]
    pub act_then_timeout: u32,
    /// How long those calls hold their answer, in milliseconds (at most 60000).
    #[schema(example = 0)]
    pub hang_ms: u64,
    /// Every simulated call answers 503 without acting; the knobs stay reachable.
    #[schema(example = false)]
    pub outage: bool,
}

impl FaultSettings {
    pub fn checked(self) -> Result<Faults, Vec<Violation>> {
        let FaultSettings { latency_ms, error_rate, act_then_timeout, hang_ms, outage } = self;
        Faults { latency_ms, error_rate, act_then_timeout, hang_ms, outage }.validate()
    }
}

impl From<Faults> for FaultSettings {
    fn from(faults: Faults) -> Self {
        let Faults { latency_ms, error_rate, act_then_timeout, hang_ms, outage } = faults;
        Self { latency_ms, error_rate, act_then_timeout, hang_ms, outage }
    }
}

/// The knobs in effect, shared by every request.
#[derive(Clone)]
pub struct Knobs {
    faults: Arc<Mutex<Faults>>,
    random: SystemRandom,
}

impl Knobs {
    pub fn new(faults: Faults) -> Self {
        Self { faults: Arc::new(Mutex::new(faults)), random: SystemRandom::new() }
    }

    // A panic elsewhere cannot leave plain knobs half-written: a poisoned lock is still usable.
    fn current(&self) -> Faults {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// Spends one `act_then_timeout` call, if any is left: how long to hold its answer.
    pub fn take_hang(&self) -> Option<Duration> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner).take_hang().map(Duration::from_millis)
    }

    /// A sample uniform in [0, 1): 53 random bits, the precision of an f64.
    fn sample(&self) -> Result<f64, ring::error::Unspecified> {
        let mut bytes = [0u8; 8];
        self.random.fill(&mut bytes)?;
        let bits = u64::from_le_bytes(bytes) >> 11;
        Ok(bits as f64 / (1u64 << 53) as f64)
    }
}

/// Applies the knobs before a simulated call is handled: an outage or a simulated error answers
/// without the handler running, so nothing is done.
pub async fn simulate(State(knobs): State<Knobs>, request: Request, next: Next) -> Response {
    let faults = knobs.current();
    if faults.outage {
        return ProviderProblem::outage().into_response();
    }
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.error_rate > 0.0 {
        match knobs.sample() {
            Ok(sample) if faults.fails(sample) => return ProviderProblem::simulated_error().into_response(),
            Ok(_) => {}
            Err(_) => return Problem::internal(&"the system random source failed").into_response(),
        }
    }
    next.run(request).await
}

/// The fault knobs in effect (`act_then_timeout` counts down as calls use it).
#[utoipa::path(get, path = "/v1/simulator/faults", tag = "simulator", security(("api_key" = [])),
    responses(
        (status = 200, description = "The knobs in effect", body = FaultSettings),
        responses::NoApiKey,
    ))]
pub async fn get_faults(State(state): State<AppState>) -> Json<FaultSettings> {
    Json(FaultSettings::from(state.knobs.current()))
}

/// Replace the fault knobs; a knob left out is off. Takes effect for the next call.
#[utoipa::path(put, path = "/v1/simulator/faults", tag = "simulator", request_body = FaultSettings,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The knobs now in effect", body = FaultSettings),
        responses::NoApiKey,
        (status = 422, description = "A knob is out of range", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_faults(
    State(state): State<AppState>,
    Json(request): Json<FaultSettings>,
) -> Result<Json<FaultSettings>, Problem> {
    let faults = request.checked().map_err(|violations| {
        Problem::validation(violations.into_iter().map(|v| FieldViolation::new(v.field, v.message)).collect())
    })?;
    state.knobs.set(faults);
    tracing::info!(?faults, "fault knobs set");
    Ok(Json(FaultSettings::from(faults)))
}
