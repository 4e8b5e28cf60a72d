//! `flotilla up`: the distributed topology on one machine. Every service in its own OS process
//! (`flotilla serve <name>`), a PostgreSQL database per service, NATS JetStream for the bus. It
//! uses the servers it is given, or starts a local nats-server it can find; it restarts a
//! service that dies, and on Ctrl-C (or SIGTERM) stops every process it started, then itself.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use flotilla_chassis::config::Environment;
use flotilla_chassis::{Config, ServiceDefinition, shutdown};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::registry;

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The PostgreSQL server for every service's database (default: `database.url`, else the
    /// local one on 127.0.0.1:5432)
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// The NATS server with JetStream (default: start a local nats-server 2.10+, found as
    /// FLOTILLA_NATS_SERVER or on the PATH)
    #[arg(long)]
    pub nats_url: Option<String>,
    /// Prefix of the services' database names
    #[arg(long, default_value = "flotilla_")]
    pub database_prefix: String,
}

/// How long a stopped service may take to finish before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// A service that dies is started again after this, doubling while it keeps dying soon after.
const FIRST_RESTART_DELAY: Duration = Duration::from_millis(500);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(10);
/// Up this long, a service counts as healthy again and its restart delay starts over.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

pub async fn run(env: Option<Environment>, config_dir: &Path, args: UpArgs) -> anyhow::Result<()> {
    let config = Config::load(env, config_dir)?.resolve_addresses(registry::SERVICES)?;
    let stop = shutdown::on_signal();
    let data_dir = config.settings.data_dir.clone();
    let (nats_url, mut nats) = match args.nats_url {
        Some(url) => (url, None),
        None => {
            let server = LocalNats::start(&data_dir.join("nats"))?;
            (server.url.clone(), Some(server))
        }
    };
    let postgres = args
        .postgres_url
        .or_else(|| config.find_string("database.url"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".to_owned());
    let mut environment = vec![
        ("FLOTILLA_DATABASE__BACKEND".to_owned(), "postgres".to_owned()),
        ("FLOTILLA_DATABASE__URL".to_owned(), postgres),
        ("FLOTILLA_DATABASE__DATABASE_PREFIX".to_owned(), args.database_prefix),
        ("FLOTILLA_BUS__BACKEND".to_owned(), "nats".to_owned()),
        ("FLOTILLA_BUS__NATS__URL".to_owned(), nats_url.clone()),
    ];
    // One secret per service account for this start, handed to the service and to identity.
    for (service, _) in crate::accounts::ACCOUNTS {
        let key = format!("services.{service}.client_secret");
        if !config.is_set(&key) {
            let secret = flotilla_chassis::secrets::generate().map_err(|_| anyhow!("no randomness for a secret"))?;
            environment.push((format!("FLOTILLA_SERVICES__{}__CLIENT_SECRET", service.to_uppercase()), secret));
        }
    }
    let launcher = Launcher { exe: std::env::current_exe()?, env, config_dir: config_dir.to_owned(), environment };

    let mut running = Vec::new();
    for definition in registry::SERVICES {
        running.push(Supervised::start(&launcher, definition)?);
    }
    say!(
        "Flotilla up: {} services, each its own process, a PostgreSQL database each, NATS at {nats_url}",
        running.len()
    );
    for service in &running {
        let url = config.service_url(service.definition.name).unwrap_or_default();
        say!("  {:<16} {:<24} pid {}", service.definition.name, url, service.child.id());
    }
    say!("Stop with Ctrl-C (SIGINT) or SIGTERM.");

    let mut ticks = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        for service in &mut running {
            service.watch(&launcher)?;
        }
    }
    say!("stopping {} services", running.len());
    stop_all(&mut running);
    if let Some(nats) = &mut nats {
        nats.stop();
    }
    Ok(())
}

/// What starts a service's process.
struct Launcher {
    exe: PathBuf,
    env: Option<Environment>,
    config_dir: PathBuf,
    environment: Vec<(String, String)>,
}

impl Launcher {
    fn spawn(&self, definition: &ServiceDefinition) -> anyhow::Result<Child> {
        let mut command = Command::new(&self.exe);
        command.arg("--config-dir").arg(&self.config_dir);
        if let Some(env) = self.env {
            command.arg("--env").arg(env.as_str());
        }
        command
            .args(["serve", definition.name])
            .envs(self.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // A group of its own: Ctrl-C in the terminal reaches this command only, which then
            // stops each service once, rather than every service twice (a second signal exits
            // without draining).
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", definition.name))
    }
}

/// A service's process, started again when it dies.
struct Supervised {
    definition: &'static ServiceDefinition,
    child: Child,
    started: Instant,
    restart_delay: Duration,
    /// When a dead process is to be started again.
    restart_at: Option<Instant>,
}

impl Supervised {
    fn start(launcher: &Launcher, definition: &'static ServiceDefinition) -> anyhow::Result<Self> {
        Ok(Self {
            definition,
            child: launcher.spawn(definition)?,
            started: Instant::now(),
            restart_delay: FIRST_RESTART_DELAY,
            restart_at: None,
        })
    }

    fn watch(&mut self, launcher: &Launcher) -> anyhow::Result<()> {
        if let Some(at) = self.restart_at {
            if Instant::now() >= at {
                self.child = launcher.spawn(self.definition)?;
                self.started = Instant::now();
                self.restart_at = None;
                say!("  {:<16} restarted, pid {}", self.definition.name, self.child.id());
            }
            return Ok(());
        }
        let Some(status) = self.child.try_wait()? else { return Ok(()) };
        if self.started.elapsed() >= HEALTHY_AFTER {
            self.restart_delay = FIRST_RESTART_DELAY;
        }
        say!(
            "  {:<16} pid {} exited ({status}); restarting in {} ms",
            self.definition.name,
            self.child.id(),
            self.restart_delay.as_millis()
        );
        self.restart_at = Some(Instant::now() + self.restart_delay);
        self.restart_delay = (self.restart_delay * 2).min(MAX_RESTART_DELAY);
        Ok(())
    }
}

/// SIGTERM to every live process, then waits for each; one that outlives the grace is killed.
fn stop_all(running: &mut [Supervised]) {
    for service in running.iter().filter(|s| s.restart_at.is_none()) {
        terminate(&service.child);
    }
    let deadline = Instant::now() + STOP_GRACE;
    for service in running.iter_mut().filter(|s| s.restart_at.is_none()) {
        while matches!(service.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if matches!(service.child.try_wait(), Ok(None)) {
            eprintln!("{} did not stop within {} s; killing it", service.definition.name, STOP_GRACE.as_secs());
            let _ = service.child.kill();
        }
        let _ = service.child.wait();
    }
}

fn terminate(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

/// A nats-server this command started, with JetStream on a free loopback port.
struct LocalNats {
    child: Child,
    url: String,
}

impl LocalNats {
    fn start(store: &Path) -> anyhow::Result<Self> {
        let binary = flotilla_messaging::nats::local_server_binary()
            .map_err(|why| anyhow!("no NATS server given (--nats-url) and none to start: {why}"))?;
        std::fs::create_dir_all(store).with_context(|| format!("creating {}", store.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            // Stopped last, after the services: not by the terminal's Ctrl-C.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut nats = Self { child, url: format!("nats://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() >= deadline || nats.child.try_wait()?.is_some() {
                nats.stop();
                bail!("{} did not listen on port {port} within 10 s", binary.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        say!("started nats-server (JetStream, store {}) at {}, pid {}", store.display(), nats.url, nats.child.id());
        Ok(nats)
    }

    fn stop(&mut self) {
        terminate(&self.child);
        let _ = self.child.wait();
    }
}
