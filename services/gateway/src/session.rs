//! Server-side browser sessions and sign-ins under way, in the gateway's own database. Session
//! ids and login states are stored as SHA-256 only; the tokens are stored because the gateway
//! must present them, and never leave it.

use flotilla_chassis::db::{Database, timestamp, timestamp_at};
use sqlx::Row;
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct Session {
    pub subject: String,
    pub roles: Vec<String>,
    pub csrf_token: String,
    pub access_token: String,
    pub access_expires_at: OffsetDateTime,
    pub refresh_token: Option<String>,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub struct Login {
    pub code_verifier: String,
    pub nonce: String,
    pub return_to: String,
}

pub async fn create(db: &Database, id_hash: &str, session: &Session, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, subject, roles, csrf_token, access_token, access_expires_at, refresh_token, \
         created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(id_hash)
    .bind(&session.subject)
    .bind(session.roles.join(" "))
    .bind(&session.csrf_token)
    .bind(&session.access_token)
    .bind(timestamp(session.access_expires_at))
    .bind(&session.refresh_token)
    .bind(timestamp(now))
    .bind(timestamp(session.expires_at))
    .execute(db.pool())
    .await?;
    Ok(())
}

pub async fn find(db: &Database, id_hash: &str) -> Result<Option<Session>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT subject, roles, csrf_token, access_token, access_expires_at, refresh_token, last_seen_at, expires_at \
         FROM sessions WHERE id_hash = $1",
    )
    .bind(id_hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let roles: String = row.try_get("roles")?;
    Ok(Some(Session {
        subject: row.try_get("subject")?,
        roles: roles.split_whitespace().map(str::to_owned).collect(),
        csrf_token: row.try_get("csrf_token")?,
        access_token: row.try_get("access_token")?,
        access_expires_at: timestamp_at(&row, "access_expires_at")?,
        refresh_token: row.try_get("refresh_token")?,
        last_seen_at: timestamp_at(&row, "last_seen_at")?,
        expires_at: timestamp_at(&row, "expires_at")?,
    }))
}

pub async fn touch(db: &Database, id_hash: &str, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(timestamp(now))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes the session; returns it, so that its refresh token can be revoked.
pub async fn delete(db: &Database, id_hash: &str) -> Result<Option<Session>, sqlx::Error> {
    let session = find(db, id_hash).await?;
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(db.pool()).await?;
    Ok(session)
}

/// Takes the right to refresh this session's tokens until `until`; false when another request
/// (in this replica or another) holds it.
pub async fn lock_refresh(
    db: &Database,
    id_hash: &str,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE sessions SET refresh_lock_until = $3 \
         WHERE id_hash = $1 AND (refresh_lock_until IS NULL OR refresh_lock_until < $2)",
    )
    .bind(id_hash)
    .bind(timestamp(now))
    .bind(timestamp(until))
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(taken == 1)
}

pub async fn store_refreshed(
    db: &Database,
    id_hash: &str,
    access_token: &str,
    access_expires_at: OffsetDateTime,
    refresh_token: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET access_token = $2, access_expires_at = $3, refresh_token = $4, refresh_lock_until = NULL \
         WHERE id_hash = $1",
    )
    .bind(id_hash)
    .bind(access_token)
    .bind(timestamp(access_expires_at))
    .bind(refresh_token)
    .execute(db.pool())
    .await?;
    Ok(())
}

pub async fn start_login(
    db: &Database,
    state_hash: &str,
    login: &Login,
    expires_at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO logins (state_hash, code_verifier, nonce, return_to, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(state_hash)
    .bind(&login.code_verifier)
    .bind(&login.nonce)
    .bind(&login.return_to)
    .bind(timestamp(expires_at))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The sign-in this state belongs to, once: it is deleted as it is read.
pub async fn take_login(db: &Database, state_hash: &str, now: OffsetDateTime) -> Result<Option<Login>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM logins WHERE state_hash = $1 AND expires_at > $2 RETURNING code_verifier, nonce, return_to",
    )
    .bind(state_hash)
    .bind(timestamp(now))
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(Login {
            code_verifier: row.try_get("code_verifier")?,
            nonce: row.try_get("nonce")?,
            return_to: row.try_get("return_to")?,
        })
    })
    .transpose()
}

/// Removes expired sessions and abandoned sign-ins.
pub async fn sweep(db: &Database, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let now = timestamp(now);
    let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(&now).execute(db.pool()).await?;
    let logins = sqlx::query("DELETE FROM logins WHERE expires_at < $1").bind(&now).execute(db.pool()).await?;
    Ok(sessions.rows_affected() + logins.rows_affected())
}
