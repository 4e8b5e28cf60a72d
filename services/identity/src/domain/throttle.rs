//! Failed sign-ins slow the next attempt down; they never lock an account (OWASP's
//! authentication cheat sheet, NIST SP 800-63B §5.2.2).
//!
//! Failures are counted three ways: for an account from one client address (the pair), for an
//! account from every address, and for an address against every account. Each count has a
//! [`Rule`]: the first `after_failures` are free, then each further failure doubles the wait
//! before the next attempt, up to `max_delay`. A count is forgotten `forget_after` its last
//! failure. The account is the email as submitted, so an unknown email is throttled exactly as
//! a known one is.
//!
//! What a stranger cannot do with it: the pair's count is theirs alone, and the account-wide
//! count only lengthens the wait of an address that has failed for that account itself,
//! measured from that address's own last failure. A person signing in from their own address is
//! never held back by failures from elsewhere, and after a typo of their own they wait at most
//! the account rule's `max_delay`, whatever anyone else does.

use time::{Duration, OffsetDateTime};

/// How one kind of count turns failures into waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub after_failures: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub forget_after: Duration,
}

impl Rule {
    /// The wait after the last of `failures`: none while they are within the free ones, then
    /// `base_delay` doubled per further failure, never more than `max_delay`.
    pub fn delay(&self, failures: i64) -> Duration {
        let beyond = failures.saturating_sub(i64::from(self.after_failures));
        if beyond < 0 {
            return Duration::ZERO;
        }
        u32::try_from(beyond)
            .ok()
            .and_then(|beyond| 2_i32.checked_pow(beyond))
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// When a count whose last failure is `now` is forgotten.
    pub fn forget_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        now.saturating_add(self.forget_after)
    }
}

/// One stored count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: i64,
    pub last: OffsetDateTime,
    pub forget_at: OffsetDateTime,
}

/// The three counts an attempt is judged by; `None` where nothing has failed (or it was forgotten).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// This account from this address.
    pub pair: Option<Failures>,
    /// This account from every address.
    pub account: Option<Failures>,
    /// This address against every account.
    pub address: Option<Failures>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub pair: Rule,
    pub account: Rule,
    pub address: Rule,
}

impl Policy {
    /// How long the attempt must wait, if it may not be made `now`.
    pub fn wait(&self, counts: &Counts, now: OffsetDateTime) -> Option<Duration> {
        let live = |failures: Option<Failures>| failures.filter(|f| now < f.forget_at);
        let pair = live(counts.pair);
        let until = [
            pair.map(|p| p.last.saturating_add(self.pair.delay(p.count))),
            // Measured from this address's own last failure: failures elsewhere can lengthen the
            // wait only up to the account rule's cap, and never start or extend it.
            pair.zip(live(counts.account)).map(|(p, a)| p.last.saturating_add(self.account.delay(a.count))),
            live(counts.address).map(|a| a.last.saturating_add(self.address.delay(a.count))),
        ];
        until.into_iter().flatten().max().filter(|until| *until > now).map(|until| until - now)
    }
}

/// Whole seconds for `Retry-After`, rounded up so that a client waiting that long is let in.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
    u64::try_from(whole).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn rule(after_failures: u32, max_delay: Duration) -> Rule {
        Rule { after_failures, base_delay: Duration::seconds(1), max_delay, forget_after: Duration::days(1) }
    }

    fn policy() -> Policy {
        Policy {
            pair: rule(5, Duration::minutes(15)),
            account: rule(20, Duration::minutes(1)),
            address: rule(100, Duration::minutes(1)),
        }
    }

    fn failed(count: i64, last: OffsetDateTime) -> Option<Failures> {
        Some(Failures { count, last, forget_at: last + Duration::days(1) })
    }

    #[test]
    fn the_delay_doubles_per_failure_beyond_the_free_ones_up_to_the_cap() {
        let rule = rule(5, Duration::minutes(15));
        let delays: Vec<i64> = (0..=16).map(|n| rule.delay(n).whole_seconds()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(rule.delay(i64::MAX), Duration::minutes(15), "no overflow, however many");
    }

    #[test]
    fn after_the_free_failures_the_pair_waits_then_may_try_again() {
        let policy = policy();
        let counts = Counts { pair: failed(4, T0), ..Counts::default() };
        assert_eq!(policy.wait(&counts, T0), None, "four failures are free");
        let counts = Counts { pair: failed(7, T0), ..Counts::default() };
        assert_eq!(policy.wait(&counts, T0), Some(Duration::seconds(4)));
        assert_eq!(policy.wait(&counts, T0 + Duration::seconds(3)), Some(Duration::seconds(1)));
        assert_eq!(policy.wait(&counts, T0 + Duration::seconds(4)), None);
    }

    #[test]
    fn failures_from_elsewhere_never_hold_back_an_address_that_has_not_failed() {
        let policy = policy();
        let attacked = Counts { pair: None, account: failed(10_000, T0), address: None };
        assert_eq!(policy.wait(&attacked, T0), None);
    }

    #[test]
    fn the_account_wide_count_slows_an_address_that_failed_too_but_only_briefly() {
        let policy = policy();
        // A typo of one's own while the account is under attack from everywhere else.
        let typo = Counts { pair: failed(1, T0), account: failed(10_000, T0 + Duration::seconds(30)), address: None };
        assert_eq!(policy.wait(&typo, T0), Some(Duration::minutes(1)));
        // The attack goes on; the wait still runs from the person's own failure.
        assert_eq!(policy.wait(&typo, T0 + Duration::seconds(59)), Some(Duration::seconds(1)));
        assert_eq!(policy.wait(&typo, T0 + Duration::minutes(1)), None);
    }

    #[test]
    fn an_address_failing_against_many_accounts_is_slowed_for_all_of_them() {
        let policy = policy();
        let stuffing = Counts { pair: None, account: None, address: failed(103, T0) };
        assert_eq!(policy.wait(&stuffing, T0), Some(Duration::seconds(8)));
    }

    #[test]
    fn the_longest_wait_counts() {
        let policy = policy();
        let counts = Counts { pair: failed(6, T0), account: failed(25, T0), address: failed(101, T0) };
        assert_eq!(policy.wait(&counts, T0), Some(Duration::seconds(32)));
    }

    #[test]
    fn a_forgotten_count_holds_nothing_back() {
        let policy = policy();
        let forgotten = Some(Failures { count: 50, last: T0, forget_at: T0 + Duration::minutes(10) });
        let counts = Counts { pair: forgotten, ..Counts::default() };
        assert_eq!(policy.wait(&counts, T0 + Duration::minutes(9)), Some(Duration::minutes(6)));
        assert_eq!(policy.wait(&counts, T0 + Duration::minutes(10)), None);
        assert_eq!(policy.pair.forget_at(T0), T0 + Duration::days(1));
    }

    #[test]
    fn retry_after_rounds_up_to_a_whole_second() {
        assert_eq!(retry_after_seconds(Duration::milliseconds(1)), 1);
        assert_eq!(retry_after_seconds(Duration::seconds(4)), 4);
        assert_eq!(retry_after_seconds(Duration::milliseconds(4_001)), 5);
    }
}
