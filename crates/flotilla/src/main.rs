//! `flotilla`: one binary to run the whole system embedded, serve one service, migrate,
//! generate load and report its version.

/// Prints a line to standard output. A reader that went away (`flotilla version | head -1`) ends
/// the output, not the command, where `println!` would panic; any other failure to write is
/// said on standard error, and a running service keeps running.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout(), $($arg)*)
            && error.kind() != std::io::ErrorKind::BrokenPipe
        {
            eprintln!("cannot write to standard output: {error}");
        }
    }};
}

mod accounts;
mod check;
mod commands;
mod dlq;
mod load;
mod new;
mod registry;
mod token;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flotilla_chassis::config::Environment;

#[derive(Debug, Parser)]
#[command(
    name = "flotilla",
    version,
    about = "Flotilla: order fulfilment as independent services",
    propagate_version = true
)]
struct Cli {
    /// Deployment environment; picks config/<env>.toml (dev, staging, prod) [default: dev]
    #[arg(long, global = true, env = "FLOTILLA_ENV", value_parser = parse_environment)]
    env: Option<Environment>,
    /// Folder holding dev.toml, staging.toml and prod.toml
    #[arg(long, global = true, env = "FLOTILLA_CONFIG_DIR", default_value = "config")]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in this process, each on its own port with its own SQLite database (the default)
    Run,
    /// Run the distributed topology on this machine: every service its own process, a PostgreSQL
    /// database each, NATS JetStream; restarts a service that dies
    Up(up::UpArgs),
    /// Run one service, as in a distributed deployment
    Serve {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(registry::names()))]
        service: String,
    },
    /// Apply database migrations for one service, or for all
    Migrate {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(registry::names()))]
        service: Option<String>,
    },
    /// Dead letters: list, show, replay after a fix, or discard
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Check the system's invariants across every service's records; exit 1 on a violation
    Check(check::CheckArgs),
    /// Generate open-loop load against a service and report latency percentiles
    Load(load::LoadArgs),
    /// Add to the workspace: `new service <name> --port <n>`
    #[command(subcommand)]
    New(new::NewCommand),
    /// Print an access token for an account (password on standard input or in FLOTILLA_PASSWORD)
    Token(token::TokenArgs),
    /// Print the product version, git commit and build time
    Version,
}

fn parse_environment(value: &str) -> Result<Environment, String> {
    value.parse().map_err(|e: flotilla_chassis::config::ConfigError| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Run) {
            Command::Run => commands::run(cli.env, &cli.config_dir).await,
            Command::Check(args) => check::run(cli.env, &cli.config_dir, args).await,
            Command::Up(args) => up::run(cli.env, &cli.config_dir, args).await,
            Command::Serve { service } => commands::serve(cli.env, &cli.config_dir, &service).await,
            Command::Migrate { service } => commands::migrate(cli.env, &cli.config_dir, service.as_deref()).await,
            Command::Dlq(command) => dlq::run(cli.env, &cli.config_dir, command).await,
            Command::Load(args) => load::run(args).await,
            Command::New(command) => new::run(command),
            Command::Token(args) => token::run(cli.env, &cli.config_dir, args).await,
            Command::Version => {
                commands::version();
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
