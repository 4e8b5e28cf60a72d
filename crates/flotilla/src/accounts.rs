//! Service accounts: the services that call other services synchronously, and the scopes they
//! call with. Each is a client-credentials client at identity, named after the service, whose
//! secret the service reads from `services.<name>.client_secret`.
//!
//! Where the service and identity share a process (`flotilla run`), an account whose secret
//! nobody configured gets a fresh random one for that start, registered on both sides, so that
//! no secret is written anywhere. Wherever identity runs and the service's secret is configured
//! (`flotilla up` hands every process the one it made; a deployment sets it from its secret
//! store), identity registers the account with it.

use anyhow::Context;
use flotilla_chassis::Config;
use serde_json::json;

/// (service, the scopes its calls need).
pub const ACCOUNTS: &[(&str, &[&str])] = &[("ordering", &["basket.read"])];

/// `config` with every account of a service in `running` provisioned.
pub fn provision(config: Config, running: &[&str]) -> anyhow::Result<Config> {
    let mut config = config;
    let identity_here = running.contains(&"identity");
    for (service, scopes) in ACCOUNTS {
        let secret_key = format!("services.{service}.client_secret");
        let client_key = format!("services.identity.clients.{service}");
        let secret = match config.find_string(&secret_key) {
            Some(secret) => secret,
            None if identity_here && running.contains(service) && !config.is_set(&client_key) => {
                let secret =
                    flotilla_chassis::secrets::generate().map_err(|_| anyhow::anyhow!("no randomness for a secret"))?;
                config = config.set(&secret_key, &secret)?;
                secret
            }
            // Neither side has a secret to share, or identity runs elsewhere.
            None => continue,
        };
        if identity_here && !config.is_set(&client_key) {
            let client = json!({ "secret": secret, "grant_types": ["client_credentials"], "scopes": scopes });
            config =
                config.set(&client_key, client).with_context(|| format!("registering {service}'s service account"))?;
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_account_gets_one_fresh_secret_on_both_sides() {
        let config = provision(Config::defaults().unwrap(), &["identity", "ordering"]).unwrap();
        let secret = config.find_string("services.ordering.client_secret").unwrap();
        assert!(secret.len() >= 32, "{secret}");
        assert_eq!(config.find_string("services.identity.clients.ordering.secret").as_deref(), Some(secret.as_str()));
        let again = provision(Config::defaults().unwrap(), &["identity", "ordering"]).unwrap();
        assert_ne!(again.find_string("services.ordering.client_secret"), Some(secret), "one per start");
    }

    #[test]
    fn a_configured_secret_is_kept_and_registered() {
        let config = Config::defaults().unwrap().set("services.ordering.client_secret", "from-the-vault").unwrap();
        let config = provision(config, &["identity", "ordering"]).unwrap();
        assert_eq!(config.find_string("services.identity.clients.ordering.secret").as_deref(), Some("from-the-vault"));
        // Serving ordering alone, nothing is made up: the deployment provides the secret.
        let alone = provision(Config::defaults().unwrap(), &["ordering"]).unwrap();
        assert!(!alone.is_set("services.ordering.client_secret"));
        // Serving identity alone with ordering's secret configured, identity registers it.
        let shared = Config::defaults().unwrap().set("services.ordering.client_secret", "shared").unwrap();
        let identity = provision(shared, &["identity"]).unwrap();
        assert_eq!(identity.find_string("services.identity.clients.ordering.secret").as_deref(), Some("shared"));
    }
}
