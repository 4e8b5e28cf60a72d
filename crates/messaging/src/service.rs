//! Putting messaging into a service: connect the configured bus, start the relay, the timer
//! worker, the consumers and the sampling of their gauges as the service's background work, and
//! hand back the outbox, a readiness check for the bus, and the `/events` and
//! `/admin/dead-letters` routes.

use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::config::ConfigError;
use flotilla_chassis::health::{CheckFuture, ReadinessCheck};
use flotilla_chassis::service::{ServiceContext, ServiceParts};
use flotilla_contracts::MessageInfo;
use secrecy::ExposeSecret;

use crate::bus::{Bus, BusError};
use crate::consumer::{Consumer, ConsumerRuntime};
use crate::embedded::{EmbeddedBus, EmbeddedOptions};
use crate::metrics::ConsumerGauges;
use crate::nats::{NatsBus, NatsOptions};
use crate::outbox::Outbox;
use crate::relay::Relay;
use crate::settings::{BusBackend, BusSettings};
use crate::timers::TimerWorker;

#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// What a service gets back from [`start`].
pub struct MessagingParts {
    pub outbox: Outbox,
    pub bus: Arc<dyn Bus>,
    /// The `/events` and `/admin/dead-letters` routes and the `bus` readiness check, for
    /// [`ServiceParts::merge`].
    pub parts: ServiceParts,
}

/// Starts messaging for `service`, which publishes `publishes` and runs `consumers`.
pub async fn start(
    ctx: &ServiceContext,
    service: &'static str,
    publishes: Vec<MessageInfo>,
    consumers: Vec<Consumer>,
) -> Result<MessagingParts, MessagingError> {
    let settings = BusSettings::from_config(&ctx.config)?;
    let bus = connect(&settings, &ctx.config.settings.data_dir, service).await?;
    // Set once: a service starts its messaging once.
    let _ = ctx.publishes.set(publishes.iter().map(|info| info.message_type).collect());

    let outbox = Outbox::new(service).with_tracer(ctx.tracer.clone());
    let relay = Relay::new(service, ctx.db.clone(), bus.clone(), settings.relay_options(), &outbox);
    ctx.tasks.spawn(relay.run(ctx.stopping.clone()));
    let timers = TimerWorker::new(ctx.db.clone(), outbox.clone(), settings.timer_poll());
    ctx.tasks.spawn(timers.run(ctx.stopping.clone()));

    let mut specs = Vec::with_capacity(consumers.len());
    for consumer in consumers {
        let runtime = ConsumerRuntime::new(
            consumer,
            ctx.db.clone(),
            outbox.clone(),
            settings.retry_policy(),
            settings.ack_wait(),
        );
        specs.push(runtime.spec());
        ctx.tasks.spawn(runtime.run(bus.clone(), ctx.stopping.clone()));
    }
    if !specs.is_empty() {
        let gauges = Arc::new(ConsumerGauges::new(service, ctx.db.clone(), bus.clone(), specs));
        ctx.every(crate::metrics::SAMPLE_EVERY, move || {
            let gauges = Arc::clone(&gauges);
            async move { gauges.sample().await }
        });
    }

    let parts = ServiceParts::new(crate::http::router(ctx.db.clone(), publishes))
        .with_check(Arc::new(BusReachable(bus.clone())));
    Ok(MessagingParts { outbox, bus, parts })
}

/// The bus `settings` name. Services of one process share the embedded log.
pub async fn connect(
    settings: &BusSettings,
    data_dir: &std::path::Path,
    client_name: &str,
) -> Result<Arc<dyn Bus>, BusError> {
    let bus: Arc<dyn Bus> = match settings.backend {
        BusBackend::Embedded => Arc::new(
            EmbeddedBus::open(
                &data_dir.join(&settings.embedded.file),
                EmbeddedOptions {
                    poll_interval: Duration::from_millis(settings.embedded.poll_ms),
                    busy_timeout: Duration::from_millis(settings.embedded.busy_timeout_ms),
                },
            )
            .await?,
        ),
        BusBackend::Nats => Arc::new(
            NatsBus::connect(
                settings.nats.url.expose_secret(),
                client_name,
                NatsOptions {
                    duplicate_window: Duration::from_secs(settings.nats.duplicate_window_s),
                    max_age: Duration::from_secs(settings.nats.max_age_hours * 3600),
                    replicas: settings.nats.replicas,
                    request_timeout: Duration::from_millis(settings.nats.request_timeout_ms),
                },
            )
            .await?,
        ),
    };
    Ok(bus)
}

/// `/readyz`: the bus takes publishes.
struct BusReachable(Arc<dyn Bus>);

impl ReadinessCheck for BusReachable {
    fn name(&self) -> &'static str {
        "bus"
    }

    fn check(&self) -> CheckFuture {
        let bus = self.0.clone();
        Box::pin(async move { bus.check().await.map_err(|error| format!("{} bus: {error}", bus.backend())) })
    }
}
