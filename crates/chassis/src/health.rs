//! Probes: `/livez` (the process answers), `/readyz` (it can do its job: dependencies reachable,
//! schema current, not shutting down), `/version`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::Database;

pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One dependency `/readyz` asks about. `Err` carries a short reason, shown to operators.
pub trait ReadinessCheck: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn check(&self) -> CheckFuture;
    /// What operators should see even when the check passes (a circuit breaker's state).
    fn detail(&self) -> Option<String> {
        None
    }
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
    checks: Arc<[Arc<dyn ReadinessCheck>]>,
}

/// Whether the service can take traffic now, and what each of its checks found.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "checks": [{"name": "database", "status": "pass"}]}))]
pub struct ReadinessReport {
    /// `ready` or `unready`.
    pub status: &'static str,
    /// One result per dependency the service needs to serve.
    pub checks: Vec<CheckResult>,
}

/// One readiness check: a dependency, and whether it answered in time.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// What was checked (`database`, `bus`, `draining`, ...).
    pub name: &'static str,
    /// `pass` or `fail`.
    pub status: &'static str,
    /// Why the check failed; absent when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Readiness {
    pub fn new(checks: Vec<Arc<dyn ReadinessCheck>>) -> Self {
        Self { draining: Arc::new(AtomicBool::new(false)), checks: checks.into() }
    }

    /// From now on the service reports unready, so that load balancers stop sending it traffic.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub async fn report(&self) -> ReadinessReport {
        let mut results = Vec::with_capacity(self.checks.len() + 1);
        if self.draining.load(Ordering::SeqCst) {
            results.push(CheckResult { name: "shutdown", status: "fail", detail: Some("draining".into()) });
        }
        // Concurrently, so that the slowest check, not their sum, bounds the probe's answer time.
        let mut running = tokio::task::JoinSet::new();
        for (index, check) in self.checks.iter().enumerate() {
            let (name, future) = (check.name(), check.check());
            running.spawn(async move {
                let outcome = match tokio::time::timeout(CHECK_TIMEOUT, future).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
                };
                (index, name, outcome)
            });
        }
        let mut outcomes: Vec<_> = running.join_all().await;
        outcomes.sort_by_key(|(index, _, _)| *index);
        for (index, name, outcome) in outcomes {
            results.push(match outcome {
                Ok(()) => CheckResult { name, status: "pass", detail: self.checks[index].detail() },
                Err(detail) => CheckResult { name, status: "fail", detail: Some(detail) },
            });
        }
        let ready = results.iter().all(|r| r.status == "pass");
        ReadinessReport { status: if ready { "ready" } else { "unready" }, checks: results }
    }
}

/// The database answers a query.
pub struct DatabaseReachable(pub Database);

impl ReadinessCheck for DatabaseReachable {
    fn name(&self) -> &'static str {
        "database"
    }

    fn check(&self) -> CheckFuture {
        let db = self.0.clone();
        Box::pin(async move { sqlx::query("SELECT 1").execute(db.pool()).await.map(|_| ()).map_err(|e| e.to_string()) })
    }
}

/// Every migration this build knows about has been applied (a newer replica may have applied more).
pub struct MigrationsApplied {
    pub db: Database,
    pub expected: usize,
}

impl ReadinessCheck for MigrationsApplied {
    fn name(&self) -> &'static str {
        "migrations"
    }

    fn check(&self) -> CheckFuture {
        let db = self.db.clone();
        let expected = self.expected as i64;
        Box::pin(async move {
            let applied = db.applied_migrations().await.map_err(|e| e.to_string())?;
            if applied >= expected {
                Ok(())
            } else {
                Err(format!("{applied} of {expected} migrations applied; run `flotilla migrate`"))
            }
        })
    }
}
