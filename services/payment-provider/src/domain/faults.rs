//! The simulator's fault knobs: what makes it slow, fail, act without answering in time, or be
//! down. They are test controls, set at run time and kept in memory.

use super::Violation;

/// The longest delay a knob may ask for. Longer would only hold connections open: the chassis
/// answers 503 after `http.request_timeout_ms` anyway.
pub const MAX_DELAY_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Added before every simulated call is handled.
    pub latency_ms: u64,
    /// The share of simulated calls answered 500 without acting, 0 to 1.
    pub error_rate: f64,
    /// The next this many mutating calls act and commit, then answer only after `hang_ms`.
    pub act_then_timeout: u32,
    pub hang_ms: u64,
    /// Every simulated call answers 503 without acting.
    pub outage: bool,
}

impl Faults {
    /// The knobs, unless one is out of range; then every violation.
    pub fn validate(self) -> Result<Self, Vec<Violation>> {
        let mut violations = Vec::new();
        if !(0.0..=1.0).contains(&self.error_rate) {
            violations.push(Violation::new("/error_rate", "must be between 0 and 1"));
        }
        for (field, ms) in [("/latency_ms", self.latency_ms), ("/hang_ms", self.hang_ms)] {
            if ms > MAX_DELAY_MS {
                violations.push(Violation::new(field, format!("must be at most {MAX_DELAY_MS} ms")));
            }
        }
        if self.act_then_timeout > 0 && self.hang_ms == 0 {
            violations.push(Violation::new("/hang_ms", "must be positive when act_then_timeout is"));
        }
        if violations.is_empty() { Ok(self) } else { Err(violations) }
    }

    /// Whether a call fails, given `sample`, uniform in [0, 1).
    pub fn fails(&self, sample: f64) -> bool {
        sample < self.error_rate
    }

    /// Spends one of the calls that act and then hang: the hang to wait, if any is left.
    pub fn take_hang(&mut self) -> Option<u64> {
        if self.act_then_timeout == 0 {
            return None;
        }
        self.act_then_timeout -= 1;
        Some(self.hang_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_knob_set_is_a_healthy_provider() {
        let mut faults = Faults::default().validate().unwrap();
        assert!(!faults.fails(0.0));
        assert_eq!(faults.take_hang(), None);
        assert!(!faults.outage);
    }

    #[test]
    fn out_of_range_knobs_are_all_named() {
        let bad =
            Faults { error_rate: 1.5, latency_ms: MAX_DELAY_MS + 1, hang_ms: MAX_DELAY_MS + 1, ..Faults::default() };
        let fields: Vec<_> = bad.validate().unwrap_err().into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["/error_rate", "/latency_ms", "/hang_ms"]);
        assert!(Faults { error_rate: -0.1, ..Faults::default() }.validate().is_err());
        assert!(Faults { error_rate: f64::NAN, ..Faults::default() }.validate().is_err());
        let no_hang = Faults { act_then_timeout: 1, ..Faults::default() }.validate().unwrap_err();
        assert_eq!(no_hang[0].field, "/hang_ms");
        assert!(Faults { error_rate: 1.0, latency_ms: MAX_DELAY_MS, ..Faults::default() }.validate().is_ok());
    }

    #[test]
    fn the_error_rate_is_the_share_of_samples_that_fail() {
        let always = Faults { error_rate: 1.0, ..Faults::default() };
        let half = Faults { error_rate: 0.5, ..Faults::default() };
        assert!(always.fails(0.0) && always.fails(0.999_999));
        assert!(half.fails(0.49) && !half.fails(0.5));
        assert!(!Faults::default().fails(0.0), "a zero rate never fails");
    }

    #[test]
    fn act_then_timeout_counts_down() {
        let mut faults = Faults { act_then_timeout: 2, hang_ms: 300, ..Faults::default() };
        assert_eq!(faults.take_hang(), Some(300));
        assert_eq!(faults.take_hang(), Some(300));
        assert_eq!(faults.take_hang(), None);
        assert_eq!(faults.act_then_timeout, 0);
    }
}
