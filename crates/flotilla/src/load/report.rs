//! The readable summary and the JSON report of a load run.

use serde_json::{Value, json};

use super::ScenarioKind;
use super::engine::Step;

pub struct Saturation {
    pub throughput_rps: f64,
    pub at_half_load: Step,
}

pub struct Report {
    target: String,
    scenario: ScenarioKind,
    steps: Vec<Step>,
    /// `None` without --find-saturation; `Some(None)` when even the first step broke a limit.
    saturation: Option<Option<Saturation>>,
}

impl Report {
    pub fn new(target: &str, scenario: ScenarioKind, steps: Vec<Step>, saturation: Option<Option<Saturation>>) -> Self {
        Self { target: target.to_owned(), scenario, steps, saturation }
    }

    pub fn summary(&self) -> String {
        let mut out = format!("target {}  scenario {:?}\n", self.target, self.scenario);
        for step in &self.steps {
            out.push_str(&format!(
                "  rate {:.0}/s for {:.1}s: sent {}, ok {}, errors {} {:?}\n  throughput {:.0}/s\n  latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n  dispatch lag ms  p99 {:.3}  max {:.3}\n",
                step.rate,
                step.elapsed.as_secs_f64(),
                step.sent,
                step.ok,
                step.error_count(),
                step.errors,
                step.throughput(),
                step.percentile_ms(0.5),
                step.percentile_ms(0.9),
                step.percentile_ms(0.99),
                step.percentile_ms(0.999),
                step.latency.max() as f64 / 1000.0,
                step.dispatch_lag.value_at_quantile(0.99) as f64 / 1000.0,
                step.dispatch_lag.max() as f64 / 1000.0,
            ));
        }
        match &self.saturation {
            Some(Some(s)) => {
                out.push_str(&format!(
                    "saturation throughput {:.0}/s; at half of it ({:.0}/s): p50 {:.3} ms, p99 {:.3} ms\n",
                    s.throughput_rps,
                    s.at_half_load.rate,
                    s.at_half_load.percentile_ms(0.5),
                    s.at_half_load.percentile_ms(0.99),
                ));
                if let Some(c) = &s.at_half_load.confirmations {
                    out.push_str(&format!(
                        "  accepted to confirmed at half load: p50 {:.3} ms, p99 {:.3} ms ({} of {} confirmed)\n",
                        c.percentile_ms(0.5),
                        c.percentile_ms(0.99),
                        c.confirmed,
                        c.accepted
                    ));
                }
            }
            Some(None) => out.push_str("saturation: not found; even the first step broke a limit\n"),
            None => {}
        }
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "target": self.target,
            "scenario": format!("{:?}", self.scenario),
            "steps": self.steps.iter().map(step_json).collect::<Vec<_>>(),
            "saturation": self.saturation.as_ref().and_then(Option::as_ref).map(|s| json!({
                "throughput_rps": s.throughput_rps,
                "at_half_load": step_json(&s.at_half_load),
            })),
        })
    }
}

fn step_json(step: &Step) -> Value {
    json!({
        "rate_target": step.rate,
        "elapsed_s": step.elapsed.as_secs_f64(),
        "sent": step.sent,
        "ok": step.ok,
        "errors": step.errors,
        "throughput_rps": step.throughput(),
        "latency_ms": {
            "p50": step.percentile_ms(0.5),
            "p90": step.percentile_ms(0.9),
            "p99": step.percentile_ms(0.99),
            "p999": step.percentile_ms(0.999),
            "max": step.latency.max() as f64 / 1000.0,
            "mean": step.latency.mean() / 1000.0,
        },
        "dispatch_lag_ms": {
            "p99": step.dispatch_lag.value_at_quantile(0.99) as f64 / 1000.0,
            "max": step.dispatch_lag.max() as f64 / 1000.0,
        },
        "confirmations": step.confirmations.as_ref().map(|c| json!({
            "accepted": c.accepted,
            "confirmed": c.confirmed,
            "rejected": c.rejected,
            "unfinished": c.unfinished,
            "accepted_to_confirmed_ms": {
                "p50": c.percentile_ms(0.5),
                "p90": c.percentile_ms(0.9),
                "p99": c.percentile_ms(0.99),
                "max": c.latency.max() as f64 / 1000.0,
            },
        })),
    })
}
