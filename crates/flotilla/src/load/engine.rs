//! One open-loop step: a fixed arrival rate for a bounded time or count.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::{Semaphore, mpsc};

use super::checkout::Confirmations;
use super::scenario::{Outcome, Scenario};

pub struct StepSettings {
    pub rate: f64,
    pub duration: Duration,
    pub max_requests: Option<u64>,
    pub max_in_flight: usize,
}

/// What one step measured. Latencies in microseconds, from scheduled time to response, for every
/// request that got an answer or failed, so that errors and timeouts weigh in the percentiles.
pub struct Step {
    pub rate: f64,
    pub elapsed: Duration,
    pub sent: u64,
    pub ok: u64,
    pub errors: BTreeMap<&'static str, u64>,
    pub latency: Histogram<u64>,
    /// How late the generator itself dispatched requests: its own accuracy, reported so that it
    /// can be told apart from the server's latency.
    pub dispatch_lag: Histogram<u64>,
    /// For the checkout scenario: what became of the orders the step placed.
    pub confirmations: Option<Confirmations>,
}

/// An arrival the generator could not send because too many requests were in flight: the client's
/// limit, not the server's, so it is counted but has no latency.
const CLIENT_OVERLOAD: &str = "client-overload";

// The timer wheel fires at millisecond granularity; the last stretch before an arrival is spun
// (yielding to other tasks) so that dispatch is accurate to microseconds.
const SPIN_WINDOW: Duration = Duration::from_millis(1);

#[allow(clippy::expect_used)] // constant arguments that meet the documented preconditions
pub fn histogram() -> Histogram<u64> {
    // 1 µs to 10 minutes at 3 significant digits: low >= 1, high >= 2 * low, sigfig <= 5.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

pub async fn run_step(client: &reqwest::Client, scenario: &Arc<Scenario>, settings: &StepSettings) -> Step {
    let planned = (settings.rate * settings.duration.as_secs_f64()).ceil() as u64;
    let total = settings.max_requests.map_or(planned, |max| max.min(planned)).max(1);
    let interval = Duration::from_secs_f64(1.0 / settings.rate);
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.set_message(format!("{:.0} req/s", settings.rate));

    let (results, mut received) = mpsc::unbounded_channel::<(Outcome, Duration)>();
    let in_flight = Arc::new(Semaphore::new(settings.max_in_flight));
    let mut dispatch_lag = histogram();
    let start = Instant::now() + Duration::from_millis(5);

    let collector_progress = progress.clone();
    let collector = tokio::spawn(async move {
        let mut latency = histogram();
        let mut ok = 0;
        let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
        while let Some((outcome, took)) = received.recv().await {
            match outcome {
                Outcome::Ok => ok += 1,
                Outcome::Error(kind) => *errors.entry(kind).or_default() += 1,
            }
            if !matches!(outcome, Outcome::Error(CLIENT_OVERLOAD)) {
                let _ = latency.record(took.as_micros().max(1) as u64);
            }
            collector_progress.inc(1);
        }
        (ok, errors, latency)
    });

    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        if let Some(wait) = scheduled.checked_duration_since(Instant::now())
            && wait > SPIN_WINDOW
        {
            tokio::time::sleep_until((scheduled - SPIN_WINDOW).into()).await;
        }
        while Instant::now() < scheduled {
            tokio::task::yield_now().await;
        }
        let _ = dispatch_lag.record(scheduled.elapsed().as_micros().max(1) as u64);
        let results = results.clone();
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let client = client.clone();
                let scenario = scenario.clone();
                tokio::spawn(async move {
                    let outcome = scenario.request(&client, i).await;
                    let _ = results.send((outcome, scheduled.elapsed()));
                    drop(permit);
                });
            }
            Err(_) => {
                let _ = results.send((Outcome::Error(CLIENT_OVERLOAD), scheduled.elapsed()));
            }
        }
    }
    drop(results);
    let (ok, errors, latency) =
        collector.await.unwrap_or_else(|_| (0, BTreeMap::from([("collector-failed", 1)]), histogram()));
    progress.finish_and_clear();
    Step {
        rate: settings.rate,
        elapsed: start.elapsed(),
        sent: total,
        ok,
        errors,
        latency,
        dispatch_lag,
        confirmations: None,
    }
}

impl Step {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn error_ratio(&self) -> f64 {
        self.error_count() as f64 / self.sent.max(1) as f64
    }

    /// Successful responses per second of the step's wall time.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn percentile_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Whether the server kept up: few errors, p99 within the limit, and (open loop) throughput
    /// close to the offered rate.
    pub fn holds(&self, max_error_ratio: f64, max_p99: Duration, max_confirm_p99: Duration) -> bool {
        self.error_ratio() <= max_error_ratio
            && self.latency.value_at_quantile(0.99) <= max_p99.as_micros() as u64
            && self.throughput() >= 0.9 * self.rate
            && self.confirmations.as_ref().is_none_or(|c| c.hold(max_confirm_p99))
    }

    pub fn summary_line(&self, holds: bool) -> String {
        let confirmed = self.confirmations.as_ref().map_or(String::new(), |c| {
            format!(
                "  confirmed {}/{} (rejected {}, unfinished {})  to confirmed p50 {:.2} ms  p99 {:.2} ms",
                c.confirmed,
                c.accepted,
                c.rejected,
                c.unfinished,
                c.percentile_ms(0.5),
                c.percentile_ms(0.99)
            )
        });
        format!(
            "rate {:>8.0}/s  ok {:>8}  errors {:>6}  throughput {:>8.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  {}{confirmed}",
            self.rate,
            self.ok,
            self.error_count(),
            self.throughput(),
            self.percentile_ms(0.5),
            self.percentile_ms(0.99),
            self.latency.max() as f64 / 1000.0,
            if holds { "holds" } else { "breaks" },
        )
    }
}
