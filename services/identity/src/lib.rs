//! The identity bounded context: Flotilla's OpenID Connect provider. Users with argon2id
//! passwords and roles, registered clients, the authorization code flow with PKCE, rotating
//! refresh tokens, client credentials for service accounts, and rotating ES256 signing keys.

mod api;
pub mod domain;
pub mod headless;
mod keys;
pub mod settings;
mod store;
mod throttle;
mod tokens;

use std::sync::Arc;

use flotilla_chassis::auth::roles;
use flotilla_chassis::db::{Database, MigrationFile};
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use secrecy::ExposeSecret;

use crate::domain::keys::Policy;
use crate::keys::KeyRing;
use crate::settings::{AdminSettings, IdentitySettings, seconds};
use crate::store::{StoreError, User};
use crate::throttle::Throttle;
use crate::tokens::Minter;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(
        1,
        "users, signing keys, codes, refresh tokens",
        include_str!("../migrations/0001_identity.sql"),
    ),
    MigrationFile::portable(2, "failed sign-in counts", include_str!("../migrations/0002_sign_in_throttle.sql")),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "identity",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8081,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let settings: IdentitySettings = ctx.config.service(SERVICE.name)?;
        let settings = settings
            .with_gateway_callback(ctx.config.settings.public_url.as_deref())
            .with_gateway_proxy(ctx.config.find_string("services.gateway.url").as_deref());
        settings.validate()?;
        let auth = &ctx.config.settings.auth;
        // A key outlives its last token by the longest token lifetime plus verifiers' leeway.
        let policy = Policy {
            rotate_every: seconds(settings.key_rotation_s),
            prepublish: seconds(settings.key_prepublish_s),
            retain: seconds(settings.access_token_ttl_s.max(settings.id_token_ttl_s) + auth.leeway_s),
        };
        let keys = KeyRing::open(ctx.db.clone(), policy).await?;
        ctx.tasks.spawn(Arc::clone(&keys).run(ctx.stopping.clone()));
        if let Some(admin) = &settings.admin {
            ensure_admin(&ctx.db, admin).await?;
        }
        let minter = Minter {
            // The provider is the issuer every service trusts: one setting for both sides.
            issuer: ctx.verifier.issuer().to_owned(),
            audience: auth.audience.clone(),
            keys: Arc::clone(&keys),
            access_ttl_s: seconds(settings.access_token_ttl_s).whole_seconds(),
            id_ttl_s: seconds(settings.id_token_ttl_s).whole_seconds(),
        };
        let attempts = api::attempt_limiter(&settings);
        let throttle = Throttle::new(ctx.db.clone(), settings.throttle.policy());
        let (forget, db, sweep) = (Arc::clone(&attempts), ctx.db.clone(), throttle.clone());
        ctx.every(std::time::Duration::from_secs(60), move || {
            let (forget, db, sweep) = (Arc::clone(&forget), db.clone(), sweep.clone());
            async move {
                let now = time::OffsetDateTime::now_utc();
                match store::sweep(db.pool(), now).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "deleted expired codes and refresh tokens"),
                    Err(error) => tracing::warn!(%error, "could not delete expired codes and refresh tokens"),
                }
                if let Err(error) = sweep.sweep(now).await {
                    tracing::warn!(%error, "could not delete forgotten sign-in failures");
                }
                // Addresses gone quiet have full buckets again: forget them, or the map only grows.
                forget.retain_recent();
                forget.shrink_to_fit();
            }
        });
        let limits = api::Limits { attempts, throttle };
        Ok(ServiceParts::new(api::router(ctx.db.clone(), Arc::new(settings), minter, keys, limits)))
    })
}

/// Creates the configured administrator on first start. Afterwards its password is the
/// configured one: a rotated secret (a new `services.identity.admin.password`) replaces the
/// stored hash at the next start and revokes the account's refresh tokens, which the old
/// password may have obtained. Its roles and everything else are left as they are.
async fn ensure_admin(db: &Database, admin: &AdminSettings) -> Result<(), flotilla_chassis::service::BoxError> {
    let email = domain::credentials::email(&admin.email)?;
    domain::credentials::password(admin.password.expose_secret())
        .map_err(|e| format!("services.identity.admin.password: {e}"))?;
    let existing = store::user_by_email(db.pool(), &email).await?;
    let password = admin.password.clone();
    if let Some(user) = existing {
        let stored = user.password_hash.clone();
        let current = tokio::task::spawn_blocking(move || {
            if domain::credentials::check(password.expose_secret(), Some(&stored)) {
                Ok(None)
            } else {
                domain::credentials::hash(password.expose_secret()).map(Some)
            }
        })
        .await??;
        if let Some(hash) = current {
            let now = time::OffsetDateTime::now_utc();
            let mut tx = db.begin_write().await?;
            store::set_password_hash(&mut *tx, &user.id, &hash).await?;
            let revoked = store::revoke_user_refresh(&mut *tx, &user.id, now).await?;
            tx.commit().await?;
            tracing::info!(user_id = %user.id, revoked, "the configured administrator's password changed; its refresh tokens are revoked");
        }
        return Ok(());
    }
    let hash = tokio::task::spawn_blocking(move || domain::credentials::hash(password.expose_secret())).await??;
    let user = User {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        password_hash: hash,
        roles: vec![roles::ADMIN.to_owned(), roles::CUSTOMER.to_owned()],
        created_at: time::OffsetDateTime::now_utc(),
    };
    match store::insert_user(db.pool(), &user).await {
        // Another replica created it a moment ago.
        Ok(()) | Err(StoreError::EmailTaken) => {}
        Err(other) => return Err(other.into()),
    }
    tracing::info!(user_id = %user.id, "created the configured administrator");
    Ok(())
}
