//! The signing-key schedule. A new key is published `prepublish` before it starts signing, so
//! that verifiers have it before any token names it; a key stays published for `retain` after
//! its successor took over, so that every token it signed expires before it disappears.

use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub rotate_every: Duration,
    pub prepublish: Duration,
    /// The longest lifetime of a token signed by a key, plus verifiers' clock leeway.
    pub retain: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMeta {
    pub kid: String,
    pub generation: i64,
    pub signs_from: OffsetDateTime,
}

/// The key that signs now: the newest whose time has come. `keys` are in generation order.
pub fn active(keys: &[KeyMeta], now: OffsetDateTime) -> Option<&KeyMeta> {
    keys.iter().rev().find(|k| k.signs_from <= now)
}

/// When the key at `index` may be withdrawn: `retain` after its successor began to sign.
fn withdrawn_at(keys: &[KeyMeta], index: usize, policy: Policy) -> Option<OffsetDateTime> {
    keys.get(index + 1).map(|next| next.signs_from + policy.retain)
}

/// The keys a JWKS lists now: every key not yet withdrawn, pending ones included.
pub fn published(keys: &[KeyMeta], now: OffsetDateTime, policy: Policy) -> Vec<&KeyMeta> {
    (0..keys.len()).filter(|&i| withdrawn_at(keys, i, policy).is_none_or(|at| now < at)).map(|i| &keys[i]).collect()
}

/// The keys that can be deleted: withdrawn, and no token they signed is still valid.
pub fn expired(keys: &[KeyMeta], now: OffsetDateTime, policy: Policy) -> Vec<&KeyMeta> {
    (0..keys.len()).filter(|&i| withdrawn_at(keys, i, policy).is_some_and(|at| now >= at)).map(|i| &keys[i]).collect()
}

/// When the next key must start signing, if one must be made now: at once when there is no
/// key at all (nothing can have cached anything), else `prepublish` from now once the active
/// key is due for rotation and no successor is pending.
pub fn successor_due(keys: &[KeyMeta], now: OffsetDateTime, policy: Policy) -> Option<OffsetDateTime> {
    let Some(newest) = keys.last() else {
        return Some(now);
    };
    let pending = newest.signs_from > now;
    let due = now >= newest.signs_from + policy.rotate_every - policy.prepublish;
    (!pending && due).then_some(now + policy.prepublish)
}

/// A rotation an operator asked for: a successor `prepublish` from now, unless one is pending.
pub fn successor_on_demand(keys: &[KeyMeta], now: OffsetDateTime, policy: Policy) -> Option<OffsetDateTime> {
    match keys.last() {
        Some(newest) if newest.signs_from > now => None,
        Some(_) => Some(now + policy.prepublish),
        None => Some(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy =
        Policy { rotate_every: Duration::days(7), prepublish: Duration::minutes(10), retain: Duration::minutes(6) };

    fn key(generation: i64, signs_from: OffsetDateTime) -> KeyMeta {
        KeyMeta { kid: format!("k{generation}"), generation, signs_from }
    }

    #[test]
    fn a_rotation_publishes_first_signs_later_and_withdraws_after_the_tokens_expired() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(successor_due(&[], t0, POLICY), Some(t0), "the first key signs at once");
        let mut keys = vec![key(1, t0)];
        assert_eq!(successor_due(&keys, t0 + Duration::days(6), POLICY), None);

        // Due ten minutes before the week is out; the successor signs once those ten minutes pass.
        let due = t0 + Duration::days(7) - Duration::minutes(10);
        let signs_from = successor_due(&keys, due, POLICY).unwrap();
        assert_eq!(signs_from, t0 + Duration::days(7));
        keys.push(key(2, signs_from));
        assert_eq!(successor_due(&keys, due + Duration::minutes(1), POLICY), None, "one pending key at a time");

        // Before the switch: the old key signs, both are published.
        let before = signs_from - Duration::seconds(1);
        assert_eq!(active(&keys, before).unwrap().kid, "k1");
        assert_eq!(published(&keys, before, POLICY).len(), 2);
        // After it: the new key signs, the old one stays published for `retain`, then expires.
        assert_eq!(active(&keys, signs_from).unwrap().kid, "k2");
        assert_eq!(published(&keys, signs_from + Duration::minutes(5), POLICY).len(), 2);
        let later = signs_from + Duration::minutes(6);
        assert_eq!(published(&keys, later, POLICY).iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["k2"]);
        assert_eq!(expired(&keys, later, POLICY).iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["k1"]);
    }

    #[test]
    fn an_operator_rotation_waits_for_the_pending_key() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let keys = vec![key(1, t0)];
        assert_eq!(successor_on_demand(&keys, t0, POLICY), Some(t0 + Duration::minutes(10)));
        let keys = vec![key(1, t0), key(2, t0 + Duration::minutes(10))];
        assert_eq!(successor_on_demand(&keys, t0 + Duration::minutes(1), POLICY), None);
    }
}
