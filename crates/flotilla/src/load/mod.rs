//! `flotilla load`: open-loop load generation.
//!
//! Arrivals are scheduled at a fixed rate before the run starts, and each latency is measured from
//! the moment its request was *scheduled*, not sent. A server that stalls therefore shows the
//! stall in every request that should have been sent during it (no coordinated omission).

mod checkout;
mod engine;
mod report;
mod scenario;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use engine::{Step, StepSettings};
use report::{Report, Saturation};
use scenario::Scenario;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioKind {
    /// List, search and get catalog products (40% list, 20% search, 40% get)
    CatalogBrowse,
    /// GET one path repeatedly (see --path); a baseline for comparisons
    Get,
    /// Signed-in customers fill a basket and check out through the gateway (--target); each
    /// step also measures accepted-to-confirmed from the orders' timelines
    Checkout,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Base URL of the service under load (loopback only in tests and CI)
    #[arg(long, default_value = "http://127.0.0.1:8082")]
    target: String,
    #[arg(long, value_enum, default_value = "catalog-browse")]
    scenario: ScenarioKind,
    /// Path requested by the get scenario
    #[arg(long, default_value = "/livez")]
    path: String,
    /// Arrivals per second
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// How long to send (e.g. 500ms, 10s, 2m; at most 1h)
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many requests even if time remains
    #[arg(long)]
    max_requests: Option<u64>,
    /// Per-request timeout
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Requests allowed in flight; arrivals beyond it are counted as `client-overload` errors
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Write a JSON report to this file
    #[arg(long)]
    report: Option<PathBuf>,
    /// Step the rate up from --rate until a limit breaks, then measure at half the highest rate that held
    #[arg(long)]
    find_saturation: bool,
    /// Rate multiplier between saturation steps
    #[arg(long, default_value_t = 1.5)]
    step_factor: f64,
    /// At most this many saturation steps
    #[arg(long, default_value_t = 16)]
    max_steps: u32,
    /// A step fails above this share of errors
    #[arg(long, default_value_t = 0.01)]
    max_error_ratio: f64,
    /// A step fails above this p99 latency
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    max_p99: Duration,
    /// Checkout: identity's base URL, where the customers sign in
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    identity: String,
    /// Checkout: customers to sign up and spread the checkouts over
    #[arg(long, default_value_t = 50)]
    customers: usize,
    /// Checkout: a step fails when an order is not confirmed, or above this accepted-to-confirmed p99
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    max_confirm_p99: Duration,
    /// Checkout: how long to wait after a step for its orders to be confirmed
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    confirm_wait: Duration,
    /// Send this header with every request, as `Name: value` (repeatable), e.g. an Authorization
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
}

fn parse_header(raw: &str) -> Result<(reqwest::header::HeaderName, reqwest::header::HeaderValue), String> {
    let (name, value) = raw.split_once(':').ok_or_else(|| format!("\"{raw}\" is not `Name: value`"))?;
    let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("\"{}\" is not a header name", name.trim()))?;
    let mut value = reqwest::header::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of {name} is not a valid header value"))?;
    // Credentials stay out of debug output.
    value.set_sensitive(true);
    Ok((name, value))
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    validate(&args)?;
    let client = flotilla_chassis::outbound::builder()
        .default_headers(args.headers.iter().cloned().collect())
        .timeout(args.timeout)
        .pool_max_idle_per_host(args.max_in_flight)
        .build()
        .context("building the HTTP client")?;
    let scenario = Scenario::prepare(args.scenario, &args, &client).await?;
    let measure = |scenario: Arc<Scenario>, mut step: Step| {
        let client = client.clone();
        async move {
            if let Scenario::Checkout(checkout) = &*scenario {
                step.confirmations = Some(checkout.confirmations(&client, args.confirm_wait).await);
            }
            step
        }
    };
    let settings = |rate: f64| StepSettings {
        rate,
        duration: args.duration,
        max_requests: args.max_requests,
        max_in_flight: args.max_in_flight,
    };

    let report = if args.find_saturation {
        let mut steps: Vec<Step> = Vec::new();
        let mut best: Option<usize> = None;
        let mut rate = args.rate;
        for _ in 0..args.max_steps {
            let step = measure(scenario.clone(), engine::run_step(&client, &scenario, &settings(rate)).await).await;
            let holds = step.holds(args.max_error_ratio, args.max_p99, args.max_confirm_p99);
            eprintln!("{}", step.summary_line(holds));
            steps.push(step);
            if !holds {
                break;
            }
            best = Some(steps.len() - 1);
            rate *= args.step_factor;
        }
        let saturation = match best {
            Some(index) => {
                let throughput = steps[index].throughput();
                let half =
                    measure(scenario.clone(), engine::run_step(&client, &scenario, &settings(throughput / 2.0)).await)
                        .await;
                eprintln!("{}", half.summary_line(true));
                Some(Saturation { throughput_rps: throughput, at_half_load: half })
            }
            None => None,
        };
        Report::new(&args.target, args.scenario, steps, Some(saturation))
    } else {
        let step = measure(scenario.clone(), engine::run_step(&client, &scenario, &settings(args.rate)).await).await;
        eprintln!("{}", step.summary_line(step.holds(args.max_error_ratio, args.max_p99, args.max_confirm_p99)));
        Report::new(&args.target, args.scenario, vec![step], None)
    };

    say!("{}", report.summary());
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report.to_json())?)
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(())
}

const MAX_DURATION: Duration = Duration::from_secs(3600);

fn validate(args: &LoadArgs) -> anyhow::Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 1_000_000.0) {
        bail!("--rate must be above 0 and at most 1000000 requests per second");
    }
    if args.duration.is_zero() || args.duration > MAX_DURATION {
        bail!("--duration must be above 0 and at most 1h");
    }
    if args.scenario == ScenarioKind::Checkout && !(1..=10_000).contains(&args.customers) {
        bail!("--customers must be between 1 and 10000");
    }
    if args.max_in_flight == 0 {
        bail!("--max-in-flight must be at least 1");
    }
    if args.find_saturation && !(args.step_factor > 1.0 && args.step_factor <= 10.0) {
        bail!("--step-factor must be above 1 and at most 10");
    }
    if !(0.0..=1.0).contains(&args.max_error_ratio) {
        bail!("--max-error-ratio must be between 0 and 1");
    }
    let url = reqwest::Url::parse(&args.target).with_context(|| format!("--target `{}` is not a URL", args.target))?;
    if url.scheme() != "http" {
        bail!("--target must be an http:// URL");
    }
    Ok(())
}

/// `250ms`, `10s`, `2m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 500ms, 10s or 2m"))?;
    let seconds =
        |factor: u64| number.checked_mul(factor).map(Duration::from_secs).ok_or(format!("`{text}` is too long"));
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" | "" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => Err(format!("`{text}` has an unknown unit; use ms, s, m or h")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration(&format!("{}h", u64::MAX)).is_err(), "overflow is an error, not a panic");
    }
}
