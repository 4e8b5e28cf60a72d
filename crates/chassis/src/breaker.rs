//! A circuit breaker around a dependency (the gateway's upstreams, the payment provider), as a
//! state machine without clocks or IO: the caller passes the time in. One made with
//! [`Breaker::reporting`] also keeps the `flotilla_circuit_breaker_state` gauge of its dependency,
//! from the start (closed) and at every change, so that every user reports it the same way.
//!
//! Closed: requests flow; it opens after `consecutive_failures` failures in a row, or when at
//! least `error_rate` of the last `window` outcomes failed (once `min_requests` are known).
//! Open: requests are refused at once until `open_for` has passed. Half-open: up to
//! `half_open_probes` requests go through as probes; one failure opens it again, that many
//! successes close it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub consecutive_failures: u32,
    pub error_rate: f64,
    pub window: usize,
    pub min_requests: usize,
    pub open_for: Duration,
    pub half_open_probes: u32,
}

/// `...breaker.*` settings of a dependency, in configuration's units.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    pub consecutive_failures: u32,
    pub error_rate: f64,
    pub window: usize,
    pub min_requests: usize,
    pub open_ms: u64,
    pub half_open_probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_rate: 0.5,
            window: 20,
            min_requests: 10,
            open_ms: 5000,
            half_open_probes: 1,
        }
    }
}

impl BreakerSettings {
    pub fn policy(&self) -> Policy {
        Policy {
            consecutive_failures: self.consecutive_failures,
            error_rate: self.error_rate,
            window: self.window,
            min_requests: self.min_requests,
            open_for: Duration::from_millis(self.open_ms),
            half_open_probes: self.half_open_probes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// The gauge value: 0 closed, 1 half-open, 2 open.
    pub fn level(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

#[derive(Debug)]
pub struct Breaker {
    policy: Policy,
    state: State,
    consecutive: u32,
    outcomes: VecDeque<bool>,
    opened_at: Option<Instant>,
    probes_in_flight: u32,
    probe_successes: u32,
    /// The `service` and `dependency` labels of its gauge, when it reports one.
    gauge: Option<(&'static str, String)>,
}

/// Whether a request may go, and if so whether it is a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    Probe,
    /// Refused; the breaker may half-open after this long.
    Refused(Duration),
}

impl Breaker {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            state: State::Closed,
            consecutive: 0,
            outcomes: VecDeque::with_capacity(policy.window),
            opened_at: None,
            probes_in_flight: 0,
            probe_successes: 0,
            gauge: None,
        }
    }

    /// A breaker that reports its state as `flotilla_circuit_breaker_state{service, dependency}`.
    pub fn reporting(policy: Policy, service: &'static str, dependency: &str) -> Self {
        let breaker = Self { gauge: Some((service, dependency.to_owned())), ..Self::new(policy) };
        breaker.report();
        breaker
    }

    pub fn state(&self) -> State {
        self.state
    }

    fn set_state(&mut self, state: State) {
        if self.state != state {
            self.state = state;
            self.report();
        }
    }

    fn report(&self) {
        if let Some((service, dependency)) = &self.gauge {
            metrics::gauge!(crate::metrics::CIRCUIT_BREAKER_STATE, "service" => *service, "dependency" => dependency.clone())
                .set(self.state.level());
        }
    }

    pub fn admit(&mut self, now: Instant) -> Admission {
        match self.state {
            State::Closed => Admission::Allowed,
            State::Open => {
                let opened = self.opened_at.unwrap_or(now);
                let waited = now.saturating_duration_since(opened);
                if waited < self.policy.open_for {
                    return Admission::Refused(self.policy.open_for - waited);
                }
                self.set_state(State::HalfOpen);
                self.probes_in_flight = 0;
                self.probe_successes = 0;
                self.admit(now)
            }
            State::HalfOpen if self.probes_in_flight < self.policy.half_open_probes => {
                self.probes_in_flight += 1;
                Admission::Probe
            }
            State::HalfOpen => Admission::Refused(Duration::from_millis(100)),
        }
    }

    /// Records how an admitted request ended; `probe` is what `admit` said.
    pub fn record(&mut self, success: bool, probe: bool, now: Instant) {
        if probe {
            self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
            if self.state != State::HalfOpen {
                return;
            }
            if success {
                self.probe_successes += 1;
                if self.probe_successes >= self.policy.half_open_probes {
                    self.close();
                }
            } else {
                self.open(now);
            }
            return;
        }
        if self.state != State::Closed {
            return;
        }
        if self.outcomes.len() == self.policy.window {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(success);
        self.consecutive = if success { 0 } else { self.consecutive + 1 };
        let failures = self.outcomes.iter().filter(|ok| !**ok).count();
        let rate_exceeded = self.outcomes.len() >= self.policy.min_requests
            && failures as f64 >= self.policy.error_rate * self.outcomes.len() as f64;
        if self.consecutive >= self.policy.consecutive_failures || rate_exceeded {
            self.open(now);
        }
    }

    fn open(&mut self, now: Instant) {
        self.set_state(State::Open);
        self.opened_at = Some(now);
        self.outcomes.clear();
        self.consecutive = 0;
    }

    fn close(&mut self) {
        self.set_state(State::Closed);
        self.opened_at = None;
        self.outcomes.clear();
        self.consecutive = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        consecutive_failures: 3,
        error_rate: 0.5,
        window: 10,
        min_requests: 6,
        open_for: Duration::from_secs(5),
        half_open_probes: 2,
    };

    #[test]
    fn opens_on_consecutive_failures_then_probes_and_closes() {
        let t = Instant::now();
        let mut breaker = Breaker::new(POLICY);
        for _ in 0..3 {
            assert_eq!(breaker.admit(t), Admission::Allowed);
            breaker.record(false, false, t);
        }
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(breaker.admit(t + Duration::from_secs(1)), Admission::Refused(Duration::from_secs(4)));

        let later = t + Duration::from_secs(5);
        assert_eq!(breaker.admit(later), Admission::Probe);
        assert_eq!(breaker.admit(later), Admission::Probe);
        assert!(matches!(breaker.admit(later), Admission::Refused(_)), "only two probes at a time");
        breaker.record(true, true, later);
        assert_eq!(breaker.state(), State::HalfOpen);
        breaker.record(true, true, later);
        assert_eq!(breaker.state(), State::Closed);
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let t = Instant::now();
        let mut breaker = Breaker::new(POLICY);
        for _ in 0..3 {
            breaker.record(false, false, t);
        }
        let later = t + Duration::from_secs(5);
        assert_eq!(breaker.admit(later), Admission::Probe);
        breaker.record(false, true, later);
        assert_eq!(breaker.state(), State::Open);
        assert!(matches!(breaker.admit(later + Duration::from_secs(1)), Admission::Refused(_)));
    }

    #[test]
    fn opens_on_the_error_rate_even_without_a_streak() {
        let t = Instant::now();
        let mut breaker = Breaker::new(POLICY);
        // ok, fail, ok, fail, ...: never two failures in a row, but half of them fail.
        for i in 0..6 {
            breaker.record(i % 2 == 0, false, t);
        }
        assert_eq!(breaker.state(), State::Open);
        let mut healthy = Breaker::new(POLICY);
        for i in 0..20 {
            healthy.record(i % 4 != 0, false, t);
        }
        assert_eq!(healthy.state(), State::Closed, "a 25% error rate stays closed");
    }

    #[test]
    fn a_reporting_breaker_keeps_its_gauge_from_the_start() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let gauge = || {
            let text = handle.render();
            let series = "flotilla_circuit_breaker_state{service=\"probe\",dependency=\"card-processor\"} ";
            text.lines().find_map(|line| line.strip_prefix(series)).map(str::to_owned)
        };
        let t = Instant::now();
        let mut breaker =
            metrics::with_local_recorder(&recorder, || Breaker::reporting(POLICY, "probe", "card-processor"));
        assert_eq!(gauge().as_deref(), Some("0"), "closed before the first call");
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..3 {
                breaker.record(false, false, t);
            }
        });
        assert_eq!(gauge().as_deref(), Some("2"), "open");
        metrics::with_local_recorder(&recorder, || breaker.admit(t + Duration::from_secs(5)));
        assert_eq!(gauge().as_deref(), Some("1"), "half-open once a probe may go");
        metrics::with_local_recorder(&recorder, || {
            breaker.record(true, true, t + Duration::from_secs(5));
            breaker.record(true, true, t + Duration::from_secs(5));
        });
        assert_eq!(gauge().as_deref(), Some("0"), "closed again");
        // A breaker that does not report leaves no series behind.
        metrics::with_local_recorder(&recorder, || {
            let mut quiet = Breaker::new(POLICY);
            for _ in 0..3 {
                quiet.record(false, false, t);
            }
        });
        assert_eq!(handle.render().matches("flotilla_circuit_breaker_state{").count(), 1);
    }
}
