//! The notifications bounded context: mail to customers at their orders' milestones.
//!
//! The `notifications.orders` consumer records one notification per order and milestone
//! (confirmed, rejected, cancelled, shipped) in its unit of work; the delivery worker sends it
//! afterwards over SMTP, retrying with backoff until the relay accepts it or the attempts run
//! out. In development an embedded mail sink stands in for the relay and shows what it received.
//! The service publishes nothing.

pub mod api;
mod consumers;
mod delivery;
pub mod domain;
mod mailer;
pub mod settings;
mod sink;
pub mod store;

use std::sync::Arc;

use flotilla_chassis::config::Environment;
use flotilla_chassis::db::MigrationFile;
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use tokio::sync::Notify;

pub use settings::Settings;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "notifications and the mail sink", include_str!("../migrations/0001_notifications.sql")),
    flotilla_messaging::outbox::migration(2),
    flotilla_messaging::timers::migration(3),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "notifications",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8088,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let mut settings = ctx.config.service::<Settings>(SERVICE.name)?;
        let dev = ctx.config.settings.env == Environment::Dev;
        let sink_enabled = *settings.sink.enabled.get_or_insert(dev);
        settings.check()?;
        let policy = settings.retry_policy()?;
        // Everything that can fail on configuration fails before anything starts.
        let sink = match sink_enabled {
            true => Some(sink::Sink::bind(&settings.sink, ctx.db.clone()).await?),
            false => None,
        };
        let sink_addr = sink.as_ref().map(sink::Sink::local_addr).transpose()?;
        let target = settings.target(sink_addr)?;
        let mailer = mailer::Mailer::new(&target, &settings)?;
        tracing::info!(?target, sink = ?sink_addr, "notifications deliver by SMTP");

        let wake = Arc::new(Notify::new());
        let domain = domain::notification::domain_of(&settings.from).to_owned();
        let recording = Arc::new(consumers::Recording { domain, wake: Arc::clone(&wake) });
        let consumers = vec![consumers::orders(recording)];
        let messaging = flotilla_messaging::start(&ctx, SERVICE.name, Vec::new(), consumers).await?;

        if let Some(sink) = sink {
            ctx.tasks.spawn(sink.run(ctx.tasks.clone(), ctx.stopping.clone()));
        }
        let worker = delivery::Worker { db: ctx.db.clone(), mailer, policy, poll: settings.poll_interval(), wake };
        ctx.tasks.spawn(worker.run(ctx.stopping.clone()));

        let api = api::router(ctx.db.clone(), sink_enabled);
        Ok(ServiceParts::new(api).merge(messaging.parts))
    })
}
