//! The identity service's SQL: users, authorization codes and refresh tokens. Codes and refresh
//! tokens are looked up by their SHA-256 only (`flotilla_chassis::secrets::fingerprint`).

use flotilla_chassis::db::{timestamp, timestamp_at};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, FromRow, Row};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a user with this email address exists")]
    EmailTaken,
}

/// How the service's own API answers a store failure: a taken email is a conflict, an
/// unreachable database a 503, anything else a 500 whose cause is only logged.
impl From<StoreError> for flotilla_chassis::Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::EmailTaken => flotilla_chassis::Problem::new(flotilla_chassis::ProblemKind::Conflict)
                .with_detail("an account with this email address exists"),
            StoreError::Database(e) => flotilla_chassis::Problem::database(&e),
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub created_at: OffsetDateTime,
}

/// A row of `users`; roles are stored space-separated, times as TEXT.
impl FromRow<'_, AnyRow> for User {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let roles: String = row.try_get("roles")?;
        Ok(Self {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            roles: roles.split_whitespace().map(str::to_owned).collect(),
            created_at: timestamp_at(row, "created_at")?,
        })
    }
}

const USER_COLUMNS: &str = "id, email, password_hash, roles, created_at";

pub async fn insert_user<'c, E: Executor<'c, Database = Any>>(db: E, user: &User) -> Result<(), StoreError> {
    let result =
        sqlx::query("INSERT INTO users (id, email, password_hash, roles, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&user.id)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(user.roles.join(" "))
            .bind(timestamp(user.created_at))
            .execute(db)
            .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::EmailTaken),
        Err(other) => Err(other.into()),
    }
}

pub async fn user_by_email<'c, E: Executor<'c, Database = Any>>(
    db: E,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(db).await?)
}

pub async fn user_by_id<'c, E: Executor<'c, Database = Any>>(db: E, id: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(db).await?)
}

/// What an authorization code stands for.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: i64,
}

pub async fn insert_code<'c, E: Executor<'c, Database = Any>>(
    db: E,
    code_hash: &str,
    grant: &CodeGrant,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
         auth_time, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(code_hash)
    .bind(&grant.client_id)
    .bind(&grant.user_id)
    .bind(&grant.redirect_uri)
    .bind(&grant.scope)
    .bind(&grant.nonce)
    .bind(&grant.code_challenge)
    .bind(grant.auth_time)
    .bind(timestamp(expires_at))
    .execute(db)
    .await?;
    Ok(())
}

pub enum Redeemed {
    Fresh(CodeGrant),
    /// The code was used before: whatever it was exchanged for must be revoked.
    Replayed {
        family_id: Option<String>,
    },
    Unknown,
}

/// Marks the code used, exactly once: of two concurrent exchanges only one gets `Fresh`.
pub async fn redeem_code(
    conn: &mut AnyConnection,
    code_hash: &str,
    now: OffsetDateTime,
) -> Result<Redeemed, StoreError> {
    let now = timestamp(now);
    let claimed = sqlx::query(
        "UPDATE authorization_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(code_hash)
    .bind(&now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let row = sqlx::query(
        "SELECT client_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, used_at, family_id \
         FROM authorization_codes WHERE code_hash = $1",
    )
    .bind(code_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(Redeemed::Unknown) };
    if claimed == 1 {
        return Ok(Redeemed::Fresh(CodeGrant {
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            redirect_uri: row.try_get("redirect_uri")?,
            scope: row.try_get("scope")?,
            nonce: row.try_get("nonce")?,
            code_challenge: row.try_get("code_challenge")?,
            auth_time: row.try_get("auth_time")?,
        }));
    }
    let used_at: Option<String> = row.try_get("used_at")?;
    match used_at {
        Some(_) => Ok(Redeemed::Replayed { family_id: row.try_get("family_id")? }),
        None => Ok(Redeemed::Unknown),
    }
}

pub async fn link_code_to_family<'c, E: Executor<'c, Database = Any>>(
    db: E,
    code_hash: &str,
    family_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE authorization_codes SET family_id = $2 WHERE code_hash = $1")
        .bind(code_hash)
        .bind(family_id)
        .execute(db)
        .await?;
    Ok(())
}

/// What a refresh token stands for; every rotation stays in the family of the first.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
}

pub async fn insert_refresh<'c, E: Executor<'c, Database = Any>>(
    db: E,
    token_hash: &str,
    grant: &RefreshGrant,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, auth_time, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(token_hash)
    .bind(&grant.family_id)
    .bind(&grant.client_id)
    .bind(&grant.user_id)
    .bind(&grant.scope)
    .bind(grant.auth_time)
    .bind(timestamp(now))
    .bind(timestamp(expires_at))
    .execute(db)
    .await?;
    Ok(())
}

pub enum Rotated {
    Fresh(RefreshGrant),
    /// Presented again after it was rotated: someone holds a copy. The family must go.
    Reused {
        family_id: String,
    },
    Unknown,
}

/// Uses up a refresh token, exactly once.
pub async fn use_refresh(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Rotated, StoreError> {
    let now = timestamp(now);
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(&now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let row = sqlx::query(
        "SELECT family_id, client_id, user_id, scope, auth_time, used_at, revoked_at FROM refresh_tokens \
         WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(Rotated::Unknown) };
    let grant = RefreshGrant {
        family_id: row.try_get("family_id")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
    };
    if claimed == 1 {
        return Ok(Rotated::Fresh(grant));
    }
    let used_at: Option<String> = row.try_get("used_at")?;
    let revoked_at: Option<String> = row.try_get("revoked_at")?;
    match (used_at, revoked_at) {
        (Some(_), None) => Ok(Rotated::Reused { family_id: grant.family_id }),
        _ => Ok(Rotated::Unknown),
    }
}

/// The family and client of a refresh token, for revocation.
pub async fn refresh_owner<'c, E: Executor<'c, Database = Any>>(
    db: E,
    token_hash: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let row = sqlx::query("SELECT family_id, client_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| Ok::<_, sqlx::Error>((r.try_get("family_id")?, r.try_get("client_id")?))).transpose()?)
}

/// Replaces a user's password hash.
pub async fn set_password_hash<'c, E: Executor<'c, Database = Any>>(
    db: E,
    user_id: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(password_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes every refresh token of a user that is not revoked yet; how many were.
pub async fn revoke_user_refresh<'c, E: Executor<'c, Database = Any>>(
    db: E,
    user_id: &str,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let result = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(timestamp(now))
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

pub async fn revoke_family<'c, E: Executor<'c, Database = Any>>(
    db: E,
    family_id: &str,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let result = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(timestamp(now))
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

/// Deletes codes and refresh tokens past their expiry. Spent ones are kept until then: a spent
/// refresh token presented again must still be recognised as reuse while it could have been valid.
/// Codes are kept a day longer, so that a replayed code still revokes what it was exchanged for.
pub async fn sweep<'c, E>(db: E, now: OffsetDateTime) -> Result<u64, StoreError>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let codes = sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
        .bind(timestamp(now - time::Duration::days(1)))
        .execute(db)
        .await?;
    let tokens =
        sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1").bind(timestamp(now)).execute(db).await?;
    Ok(codes.rows_affected() + tokens.rows_affected())
}
