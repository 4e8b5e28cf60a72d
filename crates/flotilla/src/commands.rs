//! `run`, `serve`, `migrate` and `version`.

use std::path::Path;

use anyhow::{Context, anyhow};
use flotilla_chassis::build_info::{self, PRODUCT_VERSION};
use flotilla_chassis::config::Environment;
use flotilla_chassis::service::{self, Application};
use flotilla_chassis::{Config, ServiceDefinition, shutdown, telemetry};
use tokio::task::JoinSet;

use crate::{accounts, registry};

/// The layered configuration with every registered service's address resolved (one source of
/// truth for ports, URLs, the issuer and the public URL), and telemetry installed.
fn configure(env: Option<Environment>, config_dir: &Path, running: &[&ServiceDefinition]) -> anyhow::Result<Config> {
    let names: Vec<&str> = running.iter().map(|s| s.name).collect();
    let config = accounts::provision(Config::load(env, config_dir)?, &names)?.resolve_addresses(registry::SERVICES)?;
    telemetry::init(&config.settings.log, config.settings.env)?;
    Ok(config)
}

/// Every service, embedded: one process, a port and a database each.
pub async fn run(env: Option<Environment>, config_dir: &Path) -> anyhow::Result<()> {
    let config = configure(env, config_dir, registry::SERVICES)?;
    serve_all(registry::SERVICES, config).await
}

pub async fn serve(env: Option<Environment>, config_dir: &Path, name: &str) -> anyhow::Result<()> {
    let definition = registry::find(name).ok_or_else(|| anyhow!("unknown service `{name}`"))?;
    let config = configure(env, config_dir, &[definition])?;
    serve_all(&[definition], config).await
}

async fn serve_all(definitions: &[&'static ServiceDefinition], config: Config) -> anyhow::Result<()> {
    let stop = shutdown::on_signal();
    let mut apps = Vec::with_capacity(definitions.len());
    for definition in definitions {
        apps.push(Application::build(definition, config.clone()).await?);
    }
    say!("Flotilla {PRODUCT_VERSION} ({} environment)", config.settings.env);
    for app in &apps {
        let addr = app.local_addr().context("reading the bound address")?;
        say!("  {:<16} http://{addr}   data: {}", app.name(), app.database().location());
    }
    say!("Stop with Ctrl-C (SIGINT) or SIGTERM.");

    let mut running = JoinSet::new();
    for app in apps {
        running.spawn(app.run_until_stopped(stop.clone()));
    }
    let mut first_error = None;
    while let Some(joined) = running.join_next().await {
        let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r.map_err(anyhow::Error::from));
        if let Err(error) = outcome {
            // One service failing takes the process down cleanly rather than leaving it half-up.
            stop.cancel();
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

pub async fn migrate(env: Option<Environment>, config_dir: &Path, name: Option<&str>) -> anyhow::Result<()> {
    let config = configure(env, config_dir, &[])?;
    let selected: Vec<&ServiceDefinition> = match name {
        Some(name) => vec![registry::find(name).ok_or_else(|| anyhow!("unknown service `{name}`"))?],
        None => registry::SERVICES.to_vec(),
    };
    for definition in selected {
        let db = service::migrate(definition, &config).await?;
        let applied = db.applied_migrations().await?;
        say!("{}: {applied} migrations applied ({})", definition.name, db.location());
        db.close().await;
    }
    Ok(())
}

pub fn version() {
    say!("flotilla {PRODUCT_VERSION} (commit {}, built {})", build_info::GIT_COMMIT, build_info::build_time());
    for service in registry::SERVICES {
        say!("  {:<16} {:<8} api {}", service.name, service.version, service.api_version);
    }
    // After a blank line, so that a reader of the services above stops there.
    say!("");
    say!("message contracts (each type ends in its major version):");
    for message in flotilla_contracts::registry() {
        say!("  {:<48} from {}", message.message_type, message.senders.join(", "));
    }
}
