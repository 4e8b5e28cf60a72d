//! The signing keys at work: stored in the identity database, rotated on the schedule in
//! `domain::keys` by a background task in every replica, served as the JWKS.
//!
//! Replicas agree without talking: the schedule is a function of the stored keys and the time,
//! and a new key's generation number is unique, so when two replicas make a successor at once
//! one insert fails and both then load the winner.

use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use flotilla_chassis::auth::SigningKey;
use flotilla_chassis::db::{self, Database, parse_timestamp};
use serde_json::{Value, json};
use sqlx::Row;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::domain::keys::{self, KeyMeta, Policy};

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("signing keys: {0}")]
    Database(#[from] sqlx::Error),
    #[error("signing keys: {0}")]
    Key(#[from] flotilla_chassis::auth::KeyError),
    #[error("signing keys: stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("signing keys: none is active")]
    NoActiveKey,
}

struct Current {
    signer: Arc<SigningKey>,
    jwks: Arc<Value>,
}

/// The active signer and the published key set, reloaded from the database on every tick.
pub struct KeyRing {
    db: Database,
    policy: Policy,
    current: RwLock<Arc<Current>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("policy", &self.policy).finish_non_exhaustive()
    }
}

struct StoredKey {
    meta: KeyMeta,
    algorithm: String,
    private_key: String,
}

impl KeyRing {
    /// Loads the keys, making the first one when there is none.
    pub async fn open(db: Database, policy: Policy) -> Result<Arc<Self>, KeyRingError> {
        let current = Self::settle(&db, policy, OffsetDateTime::now_utc(), false).await?;
        Ok(Arc::new(Self { db, policy, current: RwLock::new(Arc::new(current)) }))
    }

    pub fn signer(&self) -> Arc<SigningKey> {
        Arc::clone(&self.read().signer)
    }

    pub fn jwks(&self) -> Arc<Value> {
        Arc::clone(&self.read().jwks)
    }

    fn read(&self) -> Arc<Current> {
        self.current.read().map(|c| Arc::clone(&c)).unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Applies the schedule now: makes a successor when due, deletes expired keys, reloads.
    pub async fn tick(&self) -> Result<(), KeyRingError> {
        self.reload(false).await
    }

    /// An operator's rotation: a successor is published now and signs after `prepublish`.
    pub async fn rotate(&self) -> Result<(), KeyRingError> {
        self.reload(true).await
    }

    async fn reload(&self, on_demand: bool) -> Result<(), KeyRingError> {
        let current = Self::settle(&self.db, self.policy, OffsetDateTime::now_utc(), on_demand).await?;
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::new(current),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(current),
        }
        Ok(())
    }

    /// Runs the schedule until `stopping`: often enough that a successor made by another
    /// replica is loaded well before it begins to sign.
    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        let every =
            (self.policy.prepublish / 4_i32).clamp(time::Duration::milliseconds(100), time::Duration::seconds(30));
        let every = StdDuration::from_millis(u64::try_from(every.whole_milliseconds()).unwrap_or(30_000));
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "key rotation tick failed; retrying on the next one");
            }
        }
    }

    async fn settle(
        db: &Database,
        policy: Policy,
        now: OffsetDateTime,
        on_demand: bool,
    ) -> Result<Current, KeyRingError> {
        let mut stored = load(db).await?;
        let metas: Vec<KeyMeta> = stored.iter().map(|k| k.meta.clone()).collect();
        let successor = if on_demand {
            keys::successor_on_demand(&metas, now, policy)
        } else {
            keys::successor_due(&metas, now, policy)
        };
        if let Some(signs_from) = successor {
            let generation = metas.last().map_or(1, |k| k.generation + 1);
            let key = SigningKey::generate_es256()?;
            let inserted = sqlx::query(
                "INSERT INTO signing_keys (kid, generation, algorithm, private_key, signs_from, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(key.kid())
            .bind(generation)
            .bind(key.algorithm())
            .bind(B64.encode(key.pkcs8()))
            .bind(db::timestamp(signs_from))
            .bind(db::timestamp(now))
            .execute(db.pool())
            .await;
            match inserted {
                Ok(_) => {
                    tracing::info!(kid = key.kid(), generation, signs_from = %signs_from, "made a new signing key")
                }
                // Another replica made this generation first; its key is the one to use.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
                Err(other) => return Err(other.into()),
            }
        }
        let expired: Vec<String> = keys::expired(&metas, now, policy).into_iter().map(|k| k.kid.clone()).collect();
        for kid in &expired {
            sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid).execute(db.pool()).await?;
            tracing::info!(kid, "withdrew an expired signing key");
        }
        if successor.is_some() || !expired.is_empty() {
            stored = load(db).await?;
        }
        let metas: Vec<KeyMeta> = stored.iter().map(|k| k.meta.clone()).collect();
        let active = keys::active(&metas, now).ok_or(KeyRingError::NoActiveKey)?;
        let active = stored.iter().find(|k| k.meta.kid == active.kid).ok_or(KeyRingError::NoActiveKey)?;
        let signer = Arc::new(parse(active)?);
        let mut published = Vec::new();
        for meta in keys::published(&metas, now, policy) {
            if let Some(key) = stored.iter().find(|k| k.meta.kid == meta.kid) {
                published.push(parse(key)?.public_jwk().clone());
            }
        }
        Ok(Current { signer, jwks: Arc::new(json!({ "keys": published })) })
    }
}

fn parse(stored: &StoredKey) -> Result<SigningKey, KeyRingError> {
    let der = B64.decode(&stored.private_key).map_err(|e| KeyRingError::Corrupt(e.to_string()))?;
    Ok(SigningKey::from_pkcs8(&stored.algorithm, &der)?)
}

async fn load(db: &Database) -> Result<Vec<StoredKey>, KeyRingError> {
    let rows =
        sqlx::query("SELECT kid, generation, algorithm, private_key, signs_from FROM signing_keys ORDER BY generation")
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|row| {
            let signs_from: String = row.try_get("signs_from")?;
            Ok(StoredKey {
                meta: KeyMeta {
                    kid: row.try_get("kid")?,
                    generation: row.try_get("generation")?,
                    signs_from: parse_timestamp(&signs_from).map_err(|e| KeyRingError::Corrupt(e.to_string()))?,
                },
                algorithm: row.try_get("algorithm")?,
                private_key: row.try_get("private_key")?,
            })
        })
        .collect()
}
