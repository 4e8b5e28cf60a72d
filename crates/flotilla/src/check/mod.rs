//! `flotilla check`: reads every service's records and reports each broken invariant of the
//! system (the rules are in `rules.rs`); exit 1 when there is one. Run after tests and after
//! chaos: a system that is still settling (a reply in flight, a mail not yet recorded) is given
//! until `--wait-s` to settle before its violations count.

mod rules;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use flotilla_chassis::Config;
use flotilla_chassis::config::{DatabaseBackend, Environment};
use flotilla_chassis::db::Database;

pub use rules::Snapshot;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// How long a system that is still settling may take before its violations count
    #[arg(long, default_value_t = 10)]
    pub wait_s: u64,
}

pub async fn run(env: Option<Environment>, config_dir: &Path, args: CheckArgs) -> anyhow::Result<()> {
    let config = Config::load(env, config_dir)?;
    let stores = Stores::open(&config).await?;
    let deadline = Instant::now() + Duration::from_secs(args.wait_s);
    loop {
        let snapshot = stores.snapshot().await?;
        let found = rules::violations(&snapshot);
        if found.is_empty() {
            say!(
                "flotilla check: every invariant holds ({} orders, {} SKUs, {} payment intents, {} notifications)",
                snapshot.orders.len(),
                snapshot.stock.len(),
                snapshot.intents.len(),
                snapshot.notifications.len()
            );
            stores.close().await;
            return Ok(());
        }
        if Instant::now() >= deadline {
            for violation in &found {
                say!("violation: {violation}");
            }
            stores.close().await;
            bail!("{} invariant violation(s)", found.len());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The databases the invariants are read from.
struct Stores {
    ordering: Database,
    inventory: Database,
    provider: Database,
    notifications: Database,
}

impl Stores {
    async fn open(config: &Config) -> anyhow::Result<Self> {
        let settings = &config.settings;
        let open = |name: &'static str| async move {
            // Looking must not create: a SQLite service that never ran here has nothing to check.
            let file = settings.data_dir.join(format!("{name}.db"));
            if settings.database.backend == DatabaseBackend::Sqlite && !file.is_file() {
                bail!("no {name} database at {}: has the system run with this data directory?", file.display());
            }
            Database::connect(name, &settings.database, &settings.data_dir)
                .await
                .with_context(|| format!("cannot open {name}'s database"))
        };
        Ok(Self {
            ordering: open(flotilla_ordering::SERVICE.name).await?,
            inventory: open(flotilla_inventory::SERVICE.name).await?,
            provider: open(flotilla_payment_provider::SERVICE.name).await?,
            notifications: open(flotilla_notifications::SERVICE.name).await?,
        })
    }

    async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let orders = flotilla_ordering::store::audit(self.ordering.pool()).await.context("reading orders")?;
        let stock = flotilla_inventory::store::audit(self.inventory.pool()).await.context("reading stock")?;
        let intents = flotilla_payment_provider::store::audit(self.provider.pool())
            .await
            .context("reading the processor's intents")?;
        let notifications =
            flotilla_notifications::store::audit(self.notifications.pool()).await.context("reading notifications")?;
        Ok(Snapshot {
            orders: orders
                .into_iter()
                .map(|o| rules::Order {
                    id: o.order_id.to_string(),
                    status: o.status.as_str().to_owned(),
                    in_progress: o.phase.is_in_progress(),
                    timer_set: o.timer_set,
                    total_minor: o.total_minor,
                    captured_minor: o.captured_minor,
                })
                .collect(),
            stock: stock
                .into_iter()
                .map(|s| rules::Stock {
                    sku: s.sku,
                    available: s.available,
                    reserved: s.reserved,
                    committed: s.committed,
                    received: s.received,
                    moved: s.moved,
                    held: s.held,
                    sold: s.sold,
                })
                .collect(),
            intents: intents
                .into_iter()
                .map(|i| rules::Intent {
                    order_id: i.reference,
                    id: i.id,
                    status: i.status.as_str().to_owned(),
                    captured: i.amount_captured,
                    refunded: i.amount_refunded,
                })
                .collect(),
            notifications: notifications
                .into_iter()
                .map(|n| rules::Notification {
                    order_id: n.order_id.to_string(),
                    milestone: n.milestone.as_str().to_owned(),
                })
                .collect(),
        })
    }

    async fn close(&self) {
        for db in [&self.ordering, &self.inventory, &self.provider, &self.notifications] {
            db.close().await;
        }
    }
}
