//! Service accounts: the services that call other services synchronously, and the scopes they
//! call with. Each is a client-credentials client at identity, named after the service, whose
//! secret the service reads from `services.<name>.client_secret`.
//!
//! Where the services of one start share a process or a machine (`flotilla run`, `flotilla up`),
//! an account whose secret nobody configured gets a fresh random one for that start, registered
//! on both sides, so that no secret is written anywhere. A deployment sets both from its secret
//! store; a secret set on one side only is registered on the other.

use anyhow::Context;
use flotilla_chassis::Config;
use serde_json::json;

/// (service, the scopes its calls need).
pub const ACCOUNTS: &[(&str, &[&str])] = &[("ordering", &["basket.read"])];

/// `config` with every account of a service in `running` provisioned.
pub fn provision(config: Config, running: &[&str]) -> anyhow::Result<Config> {
    let mut config = config;
    for (service, scopes) in ACCOUNTS.iter().filter(|(service, _)| running.contains(service)) {
        let secret_key = format!("services.{service}.client_secret");
        let client_key = format!("services.identity.clients.{service}");
        let secret = match config.find_string(&secret_key) {
            Some(secret) => secret,
            None if running.contains(&"identity") && !config.is_set(&client_key) => {
                let secret =
                    flotilla_chassis::secrets::generate().map_err(|_| anyhow::anyhow!("no randomness for a secret"))?;
                config = config.set(&secret_key, &secret)?;
                secret
            }
            // Identity runs elsewhere: its registration is the deployment's business.
            None => continue,
        };
        if running.contains(&"identity") && !config.is_set(&client_key) {
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
        // Serving ordering alone, identity's registration is left to the deployment.
        let alone = provision(Config::defaults().unwrap(), &["ordering"]).unwrap();
        assert!(!alone.is_set("services.ordering.client_secret"));
    }
}
