//! Each service owns one database: a SQLite file in the data directory (embedded) or its own
//! database on a PostgreSQL server (distributed). Both go through one sqlx `Any` code path, so SQL
//! is written once in the portable subset (ADR 0002).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{MigrateDatabase, Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, SqlSafeStr, Transaction};

use crate::config::{DatabaseBackend, DatabaseSettings};

mod sql;

pub use sql::{AnyQuery, Sql, SqlValue};

/// One migration, embedded in the service binary with `include_str!`.
#[derive(Debug, Clone, Copy)]
pub struct MigrationFile {
    pub version: i64,
    pub description: &'static str,
    /// Portable SQL, run on both backends unless `postgres_sql` replaces it there.
    pub sql: &'static str,
    /// For the few statements with no portable spelling (an auto-incrementing key): PostgreSQL's
    /// version of `sql`, equal in meaning.
    pub postgres_sql: Option<&'static str>,
}

impl MigrationFile {
    pub const fn portable(version: i64, description: &'static str, sql: &'static str) -> Self {
        Self { version, description, sql, postgres_sql: None }
    }

    fn sql_for(&self, backend: DatabaseBackend) -> &'static str {
        match (backend, self.postgres_sql) {
            (DatabaseBackend::Postgres, Some(sql)) => sql,
            _ => self.sql,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("database.url is not a valid URL: {0}")]
    Url(String),
    #[error("cannot reach the database of {service} ({location}): {source}")]
    Connect { service: String, location: String, source: sqlx::Error },
    #[error("cannot migrate the database of {service}: {source}")]
    Migrate { service: String, source: sqlx::migrate::MigrateError },
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

/// A service's connection pool, and where it points (printable: never a password).
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: DatabaseBackend,
    location: String,
}

impl Database {
    pub async fn connect(service: &str, settings: &DatabaseSettings, data_dir: &Path) -> Result<Self, DbError> {
        install_default_drivers();
        let (url, location) = match settings.backend {
            DatabaseBackend::Sqlite => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|source| DbError::DataDir { path: data_dir.to_owned(), source })?;
                let path = data_dir.join(format!("{service}.db"));
                (format!("sqlite://{}?mode=rwc", path.display()), path.display().to_string())
            }
            DatabaseBackend::Postgres => {
                let name = format!("{}{service}", settings.database_prefix);
                let url = postgres_url(settings, &name)?;
                let location = format!("PostgreSQL database {name}");
                ensure_postgres_database(&url).await.map_err(|source| DbError::Connect {
                    service: service.into(),
                    location: location.clone(),
                    source,
                })?;
                (url, location)
            }
        };
        let pool = pool_options(settings).connect(&url).await.map_err(|source| DbError::Connect {
            service: service.into(),
            location: location.clone(),
            source,
        })?;
        Ok(Self { pool, backend: settings.backend, location })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    /// A printable description of where the data lives.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so that two writers queue on the busy timeout instead of one failing
    /// when it upgrades a read lock.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            DatabaseBackend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            DatabaseBackend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn migrate(&self, service: &str, migrations: &[MigrationFile]) -> Result<(), DbError> {
        let mut migrator = migrator(migrations, self.backend);
        // A rollback runs the previous release on a database the newer one migrated. Migrations
        // are additive before they are destructive (CONTRIBUTING.md), so the older build works
        // on that schema and must not refuse it for a migration it does not know.
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await.map_err(|source| DbError::Migrate { service: service.into(), source })
    }

    /// How many migrations have been applied successfully; 0 when none ever ran.
    pub async fn applied_migrations(&self) -> Result<i64, sqlx::Error> {
        let applied = sqlx::query_scalar::<Any, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await;
        match applied {
            Ok(count) => Ok(count),
            Err(sqlx::Error::Database(error)) if is_missing_table(error.as_ref()) => Ok(0),
            Err(error) => Err(error),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// Fixed microsecond precision in UTC, so that stored timestamps sort correctly as text.
const TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// How every service stores a point in time: portable TEXT that sorts in time order.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(TIMESTAMP).unwrap_or_default()
}

/// Reads back what [`timestamp`] stored (any RFC 3339 time, in fact).
pub fn parse_timestamp(text: &str) -> Result<time::OffsetDateTime, time::error::Parse> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
}

/// The timestamp in `column` of `row`; one that does not parse is a decode error.
pub fn timestamp_at(row: &sqlx::any::AnyRow, column: &str) -> Result<time::OffsetDateTime, sqlx::Error> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    parse_timestamp(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn is_missing_table(error: &dyn sqlx::error::DatabaseError) -> bool {
    // PostgreSQL: undefined_table; SQLite reports it only in the message.
    error.code().as_deref() == Some("42P01") || error.message().contains("no such table")
}

fn migrator(migrations: &[MigrationFile], backend: DatabaseBackend) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|m| {
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.description),
                    MigrationType::Simple,
                    m.sql_for(backend).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

fn pool_options(settings: &DatabaseSettings) -> AnyPoolOptions {
    let sqlite_pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = -{};",
        settings.sqlite_synchronous.pragma_value(),
        settings.sqlite_busy_timeout_ms,
        settings.sqlite_cache_kib,
    );
    AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .idle_timeout(Some(Duration::from_secs(300)))
        .after_connect(move |conn, _meta| {
            let pragmas = sqlite_pragmas.clone();
            Box::pin(async move {
                if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    // Built only from validated enum values and integers above.
                    conn.execute(sqlx::raw_sql(AssertSqlSafe(pragmas))).await?;
                }
                Ok(())
            })
        })
}

fn postgres_url(settings: &DatabaseSettings, database: &str) -> Result<String, DbError> {
    let Some(server) = &settings.url else {
        return Err(DbError::Url("missing".into()));
    };
    let mut url = url::Url::parse(server.expose_secret()).map_err(|e| DbError::Url(e.to_string()))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(DbError::Url(format!("scheme `{}`, expected postgres://", url.scheme())));
    }
    url.set_path(&format!("/{database}"));
    Ok(url.into())
}

async fn ensure_postgres_database(url: &str) -> Result<(), sqlx::Error> {
    if Any::database_exists(url).await? {
        return Ok(());
    }
    match Any::create_database(url).await {
        // Another replica created it between our check and our create.
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_fixed_precision_and_sort_as_text() {
        use time::OffsetDateTime;
        use time::format_description::well_known::Rfc3339;
        let whole = OffsetDateTime::from_unix_timestamp(1_800_000_005).unwrap();
        let later = whole + time::Duration::milliseconds(100);
        assert_eq!(timestamp(whole), "2027-01-15T08:00:05.000000Z");
        assert!(timestamp(whole) < timestamp(later));
        assert_eq!(OffsetDateTime::parse(&timestamp(later), &Rfc3339).unwrap(), later);
    }
    use crate::config::Config;

    #[tokio::test]
    async fn sqlite_runs_migrations_once_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Config::defaults().unwrap().settings.database;
        let db = Database::connect("probe", &settings, dir.path()).await.unwrap();
        assert_eq!(db.applied_migrations().await.unwrap(), 0);
        let migrations = [
            MigrationFile::portable(1, "one", "CREATE TABLE a (id TEXT PRIMARY KEY)"),
            MigrationFile::portable(2, "two", "CREATE TABLE b (id TEXT PRIMARY KEY)"),
        ];
        db.migrate("probe", &migrations).await.unwrap();
        db.migrate("probe", &migrations).await.unwrap();
        assert_eq!(db.applied_migrations().await.unwrap(), 2);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(db.pool()).await.unwrap();
        assert_eq!(mode, "wal");
        assert!(dir.path().join("probe.db").exists());
    }

    /// The previous release, rolled back to, starts on the database the newer one migrated.
    #[tokio::test]
    async fn an_older_release_accepts_a_database_a_newer_one_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Config::defaults().unwrap().settings.database;
        let db = Database::connect("probe", &settings, dir.path()).await.unwrap();
        let older = [MigrationFile::portable(1, "one", "CREATE TABLE a (id TEXT PRIMARY KEY)")];
        let newer = [older[0], MigrationFile::portable(2, "two", "ALTER TABLE a ADD COLUMN note TEXT")];
        db.migrate("probe", &newer).await.unwrap();
        db.migrate("probe", &older).await.unwrap();
        assert_eq!(db.applied_migrations().await.unwrap(), 2, "nothing is undone");
        let changed = [MigrationFile::portable(1, "one", "CREATE TABLE a (id INTEGER PRIMARY KEY)")];
        assert!(db.migrate("probe", &changed).await.is_err(), "an applied migration that changed is still refused");
    }

    #[test]
    fn the_postgres_url_gets_the_service_database() {
        let settings = Config::defaults()
            .unwrap()
            .set("database.url", "postgres://u:p@db:5432/ignored?sslmode=disable")
            .unwrap()
            .set("database.backend", "postgres")
            .unwrap()
            .settings
            .database;
        let url = postgres_url(&settings, "flotilla_catalog").unwrap();
        assert_eq!(url, "postgres://u:p@db:5432/flotilla_catalog?sslmode=disable");
    }
}
