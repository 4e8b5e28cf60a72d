//! When a delivery that failed is tried again, and when it is given up on.

use std::time::Duration;

/// How a relay refused, or failed to take, a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Likely to pass later: no connection, a timeout, a 4xx reply.
    Transient,
    /// The relay said no for good (5xx), or the mail cannot be built (a malformed address).
    Permanent,
}

/// What to do with a notification after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    RetryAfter(Duration),
    GiveUp,
}

/// `services.notifications.retry.*`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, whatever the failures were.
    pub max_attempts: u32,
    /// Attempts after which a permanent refusal is final. Lower than `max_attempts`: a 5xx is
    /// retried only in case it came from a relay misconfigured for a moment.
    pub max_permanent_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// After attempt number `attempts` (1 for the first) failed with `failure`. `random` is any
    /// number (a fresh random one per call), which spreads retries of mails that failed together.
    pub fn after(&self, failure: Failure, attempts: u32, random: u64) -> Next {
        let limit = match failure {
            Failure::Transient => self.max_attempts,
            Failure::Permanent => self.max_permanent_attempts.min(self.max_attempts),
        };
        if attempts >= limit {
            return Next::GiveUp;
        }
        Next::RetryAfter(self.delay(attempts, random))
    }

    /// An exponential ceiling (`base`, doubled per attempt, at most `max`), half of it fixed and
    /// half jitter, so that a retry is never immediate and retries do not move in lockstep.
    pub fn delay(&self, attempts: u32, random: u64) -> Duration {
        let exponent = attempts.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1 << exponent).min(self.max);
        let per_mille = u32::try_from(random % 1000).unwrap_or(0);
        ceiling / 2 + ceiling / 2 * per_mille / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            max_permanent_attempts: 2,
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        }
    }

    #[test]
    fn delays_double_up_to_the_ceiling_with_bounded_jitter() {
        let p = policy();
        assert_eq!(p.delay(1, 0), Duration::from_millis(500));
        assert_eq!(p.delay(2, 0), Duration::from_secs(1));
        assert_eq!(p.delay(3, 999), Duration::from_millis(2000 + 1998));
        assert_eq!(p.delay(30, 0), Duration::from_secs(5), "capped at max");
        for random in [0, 1, 499, 999, 1000, u64::MAX] {
            let d = p.delay(4, random);
            assert!(d >= Duration::from_secs(4) && d <= Duration::from_secs(8), "{d:?}");
        }
    }

    #[test]
    fn transient_failures_are_retried_until_the_attempts_run_out() {
        let p = policy();
        for attempts in 1..5 {
            assert!(matches!(p.after(Failure::Transient, attempts, 0), Next::RetryAfter(_)), "{attempts}");
        }
        assert_eq!(p.after(Failure::Transient, 5, 0), Next::GiveUp);
    }

    #[test]
    fn permanent_refusals_give_up_sooner() {
        let p = policy();
        assert!(matches!(p.after(Failure::Permanent, 1, 0), Next::RetryAfter(_)));
        assert_eq!(p.after(Failure::Permanent, 2, 0), Next::GiveUp);
        let once = RetryPolicy { max_permanent_attempts: 1, ..p };
        assert_eq!(once.after(Failure::Permanent, 1, 0), Next::GiveUp);
        let strict = RetryPolicy { max_attempts: 1, ..p };
        assert_eq!(strict.after(Failure::Permanent, 1, 0), Next::GiveUp, "never beyond max_attempts");
    }
}
