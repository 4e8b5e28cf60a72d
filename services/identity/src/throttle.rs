//! The counts of failed sign-ins behind `domain::throttle`, in the database so that every
//! replica judges an attempt alike. Rows are keyed by the SHA-256 of what they count, so the
//! table holds neither the emails people typed nor their addresses.

use std::net::IpAddr;

use flotilla_chassis::db::{Database, timestamp, timestamp_at};
use flotilla_chassis::secrets::fingerprint;
use sqlx::{Any, Executor, Row};
use time::{Duration, OffsetDateTime};

use crate::domain::credentials;
use crate::domain::throttle::{Counts, Failures, Policy, Rule};

/// The keys one sign-in attempt is counted under.
#[derive(Clone)]
pub struct Attempt {
    pair: String,
    account: String,
    address: String,
}

impl Attempt {
    /// The email as submitted (known or not, valid or not) and the client's address.
    pub fn new(email: &str, client: IpAddr) -> Self {
        let email = credentials::normalise_email(email);
        let network = network(client);
        Self {
            pair: fingerprint(&format!("pair\n{email}\n{network}")),
            account: fingerprint(&format!("account\n{email}")),
            address: fingerprint(&format!("address\n{network}")),
        }
    }
}

/// What one client controls: an IPv4 address, or an IPv6 /64, since whoever has one address of
/// a /64 usually has all of them.
fn network(client: IpAddr) -> String {
    match client.to_canonical() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

#[derive(Clone)]
pub struct Throttle {
    db: Database,
    policy: Policy,
}

impl Throttle {
    pub fn new(db: Database, policy: Policy) -> Self {
        Self { db, policy }
    }

    /// How long `attempt` must wait, if it may not be made `now`.
    pub async fn wait(&self, attempt: &Attempt, now: OffsetDateTime) -> Result<Option<Duration>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT key_hash, failures, last_failure_at, forget_at FROM sign_in_failures \
             WHERE key_hash IN ($1, $2, $3)",
        )
        .bind(&attempt.pair)
        .bind(&attempt.account)
        .bind(&attempt.address)
        .fetch_all(self.db.pool())
        .await?;
        let mut counts = Counts::default();
        for row in rows {
            let key: String = row.try_get("key_hash")?;
            let failures = Some(Failures {
                count: row.try_get("failures")?,
                last: timestamp_at(&row, "last_failure_at")?,
                forget_at: timestamp_at(&row, "forget_at")?,
            });
            if key == attempt.pair {
                counts.pair = failures;
            } else if key == attempt.account {
                counts.account = failures;
            } else if key == attempt.address {
                counts.address = failures;
            }
        }
        Ok(self.policy.wait(&counts, now))
    }

    /// Counts a failed attempt under each of its keys.
    pub async fn failed(&self, attempt: &Attempt, now: OffsetDateTime) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        for (key, rule) in [
            (&attempt.pair, &self.policy.pair),
            (&attempt.account, &self.policy.account),
            (&attempt.address, &self.policy.address),
        ] {
            count_failure(&mut *tx, key, rule, now).await?;
        }
        tx.commit().await
    }

    /// The right password from this address: its own count for the account starts over. The
    /// account's and the address's do not, or an attacker's own account would reset them.
    pub async fn succeeded(&self, attempt: &Attempt) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sign_in_failures WHERE key_hash = $1")
            .bind(&attempt.pair)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes the counts already forgotten.
    pub async fn sweep(&self, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM sign_in_failures WHERE forget_at <= $1")
            .bind(timestamp(now))
            .execute(self.db.pool())
            .await?;
        Ok(deleted.rows_affected())
    }
}

/// One more failure under `key`, in one statement so that concurrent failures all count. A count
/// already forgotten (see `Policy::wait`) starts over at one.
async fn count_failure<'c, E: Executor<'c, Database = Any>>(
    db: E,
    key: &str,
    rule: &Rule,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sign_in_failures (key_hash, failures, last_failure_at, forget_at) VALUES ($1, 1, $2, $3) \
         ON CONFLICT (key_hash) DO UPDATE SET \
         failures = CASE WHEN sign_in_failures.forget_at <= $2 THEN 1 ELSE sign_in_failures.failures + 1 END, \
         last_failure_at = $2, forget_at = $3",
    )
    .bind(key)
    .bind(timestamp(now))
    .bind(timestamp(rule.forget_at(now)))
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use flotilla_testkit::{Backend, TestDatabase, on_both_backends};

    use super::*;

    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn rule(after_failures: u32) -> Rule {
        Rule {
            after_failures,
            base_delay: Duration::seconds(10),
            max_delay: Duration::minutes(10),
            forget_after: Duration::hours(1),
        }
    }

    async fn throttle(database: &TestDatabase) -> Throttle {
        let config = database.config();
        let db = Database::connect("identity", &config.settings.database, &config.settings.data_dir).await.unwrap();
        db.migrate("identity", crate::MIGRATIONS).await.unwrap();
        Throttle::new(db, Policy { pair: rule(2), account: rule(3), address: rule(4) })
    }

    async fn failures_are_counted_per_key_forgotten_and_cleared(backend: Backend) {
        let database = TestDatabase::new(backend).await;
        let throttle = throttle(&database).await;
        let (here, there) = ("203.0.113.1".parse().unwrap(), "198.51.100.2".parse().unwrap());
        let kim_here = Attempt::new("Kim@Example.com ", here);
        assert_eq!(kim_here.pair, Attempt::new("kim@example.com", here).pair, "the email as normalised");
        for _ in 0..2 {
            throttle.failed(&kim_here, T0).await.unwrap();
        }
        assert_eq!(throttle.wait(&kim_here, T0).await.unwrap(), Some(Duration::seconds(10)));
        assert_eq!(throttle.wait(&Attempt::new("kim@example.com", there), T0).await.unwrap(), None);
        assert_eq!(throttle.wait(&Attempt::new("lee@example.com", here), T0).await.unwrap(), None);

        // An hour without failures forgets the count: the next failure is the first again.
        let later = T0 + Duration::hours(1);
        assert_eq!(throttle.wait(&kim_here, later).await.unwrap(), None);
        throttle.failed(&kim_here, later).await.unwrap();
        assert_eq!(throttle.wait(&kim_here, later).await.unwrap(), None, "one failure is free again");

        // The right password clears the pair's count, and the sweep deletes what is forgotten.
        throttle.failed(&kim_here, later).await.unwrap();
        assert!(throttle.wait(&kim_here, later).await.unwrap().is_some());
        throttle.succeeded(&kim_here).await.unwrap();
        assert_eq!(throttle.wait(&kim_here, later).await.unwrap(), None);
        assert_eq!(throttle.sweep(later + Duration::hours(1)).await.unwrap(), 2, "the account's and the address's");
    }

    async fn concurrent_failures_all_count(backend: Backend) {
        let database = TestDatabase::new(backend).await;
        let throttle = throttle(&database).await;
        let attempt = Attempt::new("kim@example.com", "2001:db8::1".parse().unwrap());
        let mut failing = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let (throttle, attempt) = (throttle.clone(), attempt.clone());
            failing.spawn(async move { throttle.failed(&attempt, T0).await });
        }
        while let Some(failed) = failing.join_next().await {
            failed.unwrap().unwrap();
        }
        // Six failures with two free: 10 s doubled four times.
        assert_eq!(throttle.wait(&attempt, T0).await.unwrap(), Some(Duration::seconds(160)));
        let same_network = Attempt::new("kim@example.com", "2001:db8::ffff".parse().unwrap());
        assert_eq!(throttle.wait(&same_network, T0).await.unwrap(), Some(Duration::seconds(160)), "one /64");
    }

    on_both_backends!(failures_are_counted_per_key_forgotten_and_cleared, concurrent_failures_all_count);
}
