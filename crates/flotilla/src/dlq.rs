//! `flotilla dlq`: list, show, replay and discard dead letters in the services' own databases.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use flotilla_chassis::config::{DatabaseBackend, Environment};
use flotilla_chassis::db::Database;
use flotilla_chassis::{Config, ServiceDefinition};
use flotilla_messaging::dead_letters::{self, DeadLetter, Selector};
use uuid::Uuid;

use crate::registry;

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead letters, oldest first, one line each
    List {
        #[command(flatten)]
        scope: Scope,
        /// At most this many per service
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
    /// One dead letter in full: its message, headers and errors
    Show {
        id: Uuid,
        #[command(flatten)]
        scope: Scope,
    },
    /// Ask the owning consumer to handle dead letters again, with the same message id
    Replay {
        #[command(flatten)]
        selection: Selection,
    },
    /// Delete dead letters for good
    Discard {
        #[command(flatten)]
        selection: Selection,
    },
}

/// Where to look: one service, or every service.
#[derive(Debug, Args)]
pub struct Scope {
    /// Only this service's database
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(registry::names()))]
    service: Option<String>,
    /// Only this consumer's dead letters (`<service>.<consumer>`)
    #[arg(long)]
    consumer: Option<String>,
}

/// Which dead letters: exactly one of an id, a consumer, or all.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Selection {
    /// One dead letter
    id: Option<Uuid>,
    /// Every dead letter of this consumer (`<service>.<consumer>`)
    #[arg(long)]
    consumer: Option<String>,
    /// Every dead letter of every consumer
    #[arg(long)]
    all: bool,
}

pub async fn run(env: Option<Environment>, config_dir: &Path, command: DlqCommand) -> anyhow::Result<()> {
    let config = Config::load(env, config_dir)?;
    match command {
        DlqCommand::List { scope, limit } => {
            let mut total = 0;
            for (definition, db) in databases(&config, &scope).await? {
                let letters = dead_letters::list(&db, scope.consumer.as_deref(), limit)
                    .await
                    .with_context(|| cannot_read(definition))?;
                total += letters.len();
                for letter in letters {
                    print_line(&letter);
                }
                db.close().await;
            }
            if total == 0 {
                say!("no dead letters");
            }
            Ok(())
        }
        DlqCommand::Show { id, scope } => {
            for (definition, db) in databases(&config, &scope).await? {
                let found = dead_letters::get(&db, id).await.with_context(|| cannot_read(definition))?;
                db.close().await;
                if let Some(letter) = found {
                    say!("{}", serde_json::to_string_pretty(&letter)?);
                    return Ok(());
                }
            }
            bail!("no dead letter {id}")
        }
        DlqCommand::Replay { selection } => {
            let affected = apply(&config, selection, "replay", dead_letters::request_replay).await?;
            say!("replay requested for {affected} dead letter(s); their consumers pick them up within seconds");
            Ok(())
        }
        DlqCommand::Discard { selection } => {
            let affected = apply(&config, selection, "discard", dead_letters::discard).await?;
            say!("discarded {affected} dead letter(s)");
            Ok(())
        }
    }
}

async fn apply<F>(config: &Config, selection: Selection, verb: &str, operation: F) -> anyhow::Result<u64>
where
    F: AsyncFn(&Database, &Selector) -> Result<u64, sqlx::Error>,
{
    let (selector, scope) = match selection {
        Selection { id: Some(id), .. } => (Selector::One(id), Scope { service: None, consumer: None }),
        Selection { consumer: Some(consumer), .. } => {
            (Selector::Consumer(consumer.clone()), Scope { service: None, consumer: Some(consumer) })
        }
        Selection { .. } => (Selector::All, Scope { service: None, consumer: None }),
    };
    let mut affected = 0;
    for (definition, db) in databases(config, &scope).await? {
        affected += operation(&db, &selector).await.with_context(|| format!("cannot {verb} in {}", definition.name))?;
        db.close().await;
    }
    if affected == 0
        && let Selector::One(id) = selector
    {
        bail!("no dead letter {id} (waiting for replay ones are not replayed twice)");
    }
    Ok(affected)
}

/// The databases in scope: one service's, the consumer's service's, or all that exist.
async fn databases(config: &Config, scope: &Scope) -> anyhow::Result<Vec<(&'static ServiceDefinition, Database)>> {
    let from_consumer = scope.consumer.as_deref().map(|c| c.split('.').next().unwrap_or(c));
    let wanted = scope.service.as_deref().or(from_consumer);
    let selected: Vec<&'static ServiceDefinition> = match wanted {
        Some(name) => vec![registry::find(name).ok_or_else(|| {
            anyhow!(
                "no service `{name}`; consumers are named <service>.<consumer>, services are {:?}",
                registry::names()
            )
        })?],
        None => registry::SERVICES.to_vec(),
    };
    let settings = &config.settings;
    let mut databases = Vec::new();
    for definition in selected {
        // Looking must not create: a SQLite service that never ran has no dead letters.
        if settings.database.backend == DatabaseBackend::Sqlite
            && !settings.data_dir.join(format!("{}.db", definition.name)).is_file()
        {
            continue;
        }
        let db = Database::connect(definition.name, &settings.database, &settings.data_dir).await?;
        databases.push((definition, db));
    }
    Ok(databases)
}

fn cannot_read(definition: &ServiceDefinition) -> String {
    format!("cannot read the dead letters of {} (is its database migrated? `flotilla migrate`)", definition.name)
}

fn print_line(letter: &DeadLetter) {
    let mut error = letter.last_error.replace('\n', " ");
    if error.chars().count() > 80 {
        error = error.chars().take(79).chain(['…']).collect();
    }
    say!(
        "{}  {}  {}  {} after {} attempt(s), {}  {}  {}",
        letter.id,
        letter.consumer,
        letter.message_type,
        letter.reason,
        letter.attempts,
        letter.state,
        letter.last_failed_at,
        error
    );
}
