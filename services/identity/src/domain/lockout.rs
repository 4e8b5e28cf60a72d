//! Temporary lockout after consecutive failed sign-ins.

use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub after_failures: u32,
    pub lock_for: Duration,
}

/// An account's state after one more failed attempt: the new failure count, and the moment
/// the lock ends when this failure reached the limit (the count then starts over).
pub fn after_failure(failures: i64, policy: Policy, now: OffsetDateTime) -> (i64, Option<OffsetDateTime>) {
    let failures = failures + 1;
    if failures >= i64::from(policy.after_failures) { (0, Some(now + policy.lock_for)) } else { (failures, None) }
}

pub fn is_locked(locked_until: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    locked_until.is_some_and(|until| now < until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_failure_locks_for_the_configured_time() {
        let policy = Policy { after_failures: 5, lock_for: Duration::minutes(15) };
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut failures = 0;
        for _ in 0..4 {
            let (next, lock) = after_failure(failures, policy, now);
            assert_eq!(lock, None);
            failures = next;
        }
        let (failures, lock) = after_failure(failures, policy, now);
        assert_eq!((failures, lock), (0, Some(now + Duration::minutes(15))));
        assert!(is_locked(lock, now + Duration::minutes(14)));
        assert!(!is_locked(lock, now + Duration::minutes(15)));
    }
}
