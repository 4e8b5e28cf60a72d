//! Layered configuration: built-in defaults < `config/<env>.toml` < `FLOTILLA_...` variables.
//!
//! Everything is validated once at start-up; a bad value stops the process with a message that
//! names the key, what was found and what was expected.

mod addresses;
mod settings;

pub use addresses::ServiceAddress;
pub use settings::{
    DatabaseBackend, DatabaseSettings, HttpSettings, LogFormat, LogSettings, Settings, SqliteSynchronous, TraceSettings,
};

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const DEFAULTS: &str = include_str!("defaults.toml");
const ENV_PREFIX: &str = "FLOTILLA_";

/// The deployment environment, which picks `config/<env>.toml` and some defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Staging,
    Prod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Prod => "prod",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dev" => Ok(Self::Dev),
            "staging" => Ok(Self::Staging),
            "prod" => Ok(Self::Prod),
            other => Err(ConfigError::Invalid {
                key: "env".into(),
                message: format!("found \"{other}\", expected one of dev, staging, prod"),
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(Box<figment::Error>),
    #[error("configuration: key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl From<figment::Error> for ConfigError {
    /// Names the key and where its value came from (the variable or file an operator must fix).
    fn from(error: figment::Error) -> Self {
        if error.path.is_empty() {
            return Self::Load(Box::new(error));
        }
        let key = error.path.join(".");
        let origin = match error.metadata.as_ref() {
            Some(meta) if meta.name.contains("environment") => {
                format!(" (from {ENV_PREFIX}{})", error.path.join("__").to_ascii_uppercase())
            }
            Some(meta) => match &meta.source {
                Some(figment::Source::File(path)) => format!(" (from {})", path.display()),
                _ => String::new(),
            },
            None => String::new(),
        };
        Self::Invalid { key, message: format!("{}{origin}", error.kind) }
    }
}

/// Loaded, validated configuration, plus the layered source so that each service can extract its
/// own section (`services.<name>`) with its own type.
#[derive(Clone)]
pub struct Config {
    pub settings: Settings,
    figment: Figment,
}

// The raw layers hold secrets in plain text; only the typed settings, whose secrets redact
// themselves, may be printed.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Config {
    /// Loads the layers for `env` (else `FLOTILLA_ENV`, else dev) from `config_dir`.
    pub fn load(env: Option<Environment>, config_dir: &Path) -> Result<Self, ConfigError> {
        let env = match env {
            Some(env) => env,
            None => match std::env::var(format!("{ENV_PREFIX}ENV")) {
                Ok(value) => value.parse()?,
                Err(_) => Environment::Dev,
            },
        };
        let file = config_dir.join(format!("{env}.toml"));
        // Outside dev a missing file is a deployment mistake (a wrong --config-dir), not a default.
        if env != Environment::Dev && !file.is_file() {
            return Err(ConfigError::Invalid {
                key: "env".into(),
                message: format!("{env} needs {}, which does not exist (see --config-dir)", file.display()),
            });
        }
        let mut figment = Figment::new().merge(Toml::string(DEFAULTS));
        if file.is_file() {
            // Exact: a relative path is not searched for in parent directories.
            figment = figment.merge(Toml::file_exact(file));
        }
        let figment = figment
            .merge(
                Env::prefixed(ENV_PREFIX)
                    .filter_map(|key| is_config_key(key.as_str()).then(|| env_key(key.as_str()).into())),
            )
            .merge(Serialized::default("env", env));
        Self::from_figment(figment)
    }

    /// Built-in defaults only; tests and tools layer their own values on top with [`Config::set`].
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(DEFAULTS)))
    }

    /// Returns a copy with `key` (dotted, e.g. `http.drain_delay_ms`) set to `value`, re-validated.
    pub fn set<V: Serialize>(&self, key: &str, value: V) -> Result<Self, ConfigError> {
        Self::from_figment(self.figment.clone().merge(Serialized::default(key, value)))
    }

    /// Whether any layer sets `key` (dotted).
    pub fn is_set(&self, key: &str) -> bool {
        self.figment.find_value(key).is_ok()
    }

    /// The text at `key` (dotted), if a layer sets one.
    pub fn find_string(&self, key: &str) -> Option<String> {
        self.figment.extract_inner::<String>(key).ok()
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract()?;
        settings.validate()?;
        Ok(Self { settings, figment })
    }

    /// The section `services.<name>` as the service's own settings type (defaults when absent),
    /// without the keys the chassis owns (`port`, `url`), so that the type lists only its own.
    pub fn service<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        let key = format!("services.{name}");
        let Ok(section) = self.figment.find_value(&key) else {
            return Ok(T::default());
        };
        let Some(mut section) = section.into_dict() else {
            return Err(ConfigError::Invalid { key, message: "expected a table of settings".into() });
        };
        for owned in addresses::CHASSIS_KEYS {
            section.remove(owned);
        }
        figment::value::Value::from(section).deserialize().map_err(|mut error: figment::Error| {
            error.path.splice(0..0, ["services".to_owned(), name.to_owned()]);
            error.metadata = self.figment.find_metadata(&error.path.join(".")).cloned();
            error.into()
        })
    }

    /// A top-level section owned by a library rather than the chassis (`bus`), as that library's
    /// settings type; `T`'s serde defaults apply to what is absent.
    pub fn section<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ConfigError> {
        Ok(self.optional(key)?.unwrap_or_default())
    }

    /// The port a service listens on: `services.<name>.port`, else its default.
    pub fn service_port(&self, name: &str, default: u16) -> Result<u16, ConfigError> {
        Ok(self.optional(&format!("services.{name}.port"))?.unwrap_or(default))
    }

    /// Where a service serves its probes, `/metrics` and `/version` when not on its API's port:
    /// `services.<name>.ops_port`, so that a public listener (the gateway's) need not expose them.
    pub fn service_ops_port(&self, name: &str) -> Result<Option<u16>, ConfigError> {
        self.optional(&format!("services.{name}.ops_port"))
    }

    /// The value at `key` when any layer sets it.
    fn optional<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        match self.figment.find_value(key) {
            Ok(_) => Ok(Some(self.figment.extract_inner(key)?)),
            Err(_) => Ok(None),
        }
    }
}

/// The configuration key a `FLOTILLA_` variable (prefix stripped) sets: lower case, `__` between
/// levels, and a service's name spelt with its dashes, which a shell cannot put in a variable's
/// name (`SERVICES__PAYMENT_PROVIDER__PORT` is `services.payment-provider.port`; service names
/// never hold an underscore).
fn env_key(variable: &str) -> String {
    let key = variable.to_ascii_lowercase().replace("__", ".");
    match key.strip_prefix("services.").and_then(|rest| rest.split_once('.')) {
        Some((service, rest)) => format!("services.{}.{rest}", service.replace('_', "-")),
        None => key,
    }
}

/// Whether a `FLOTILLA_` variable (prefix stripped, lowercased) addresses configuration.
///
/// Only the top-level segment is checked: Kubernetes service links and build tooling set other
/// `FLOTILLA_*` variables (`FLOTILLA_CATALOG_PORT=tcp://...`), which must not stop the process,
/// while a typo below a known key (`FLOTILLA_HTTP__PORTT`) still fails validation.
fn is_config_key(key: &str) -> bool {
    const ROOTS: [&str; 10] =
        ["env", "data_dir", "public_url", "log", "traces", "http", "database", "auth", "services", "bus"];
    // figment hands over the variable's own spelling; matching is case-insensitive, as it is later.
    let key = key.to_ascii_lowercase();
    let first = key.split("__").next().unwrap_or_default();
    // `http_request_timeout_ms` (one underscore too few) is read, so that validation rejects it.
    ROOTS.iter().any(|root| first == *root || (first.starts_with(root) && first[root.len()..].starts_with('_')))
}

#[cfg(test)]
mod tests;
