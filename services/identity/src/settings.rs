//! `services.identity.*`: token lifetimes, key rotation, sign-in protection, the first admin and
//! the registered clients. Validated once at start-up; a mistake names its key.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::throttle::{Policy, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

/// A registered client. Without a secret it is public (a browser or native app) and must rely
/// on PKCE alone; with one it authenticates at the token endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Compared exactly, character for character: no prefixes, no wildcards.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// The scopes the client may ask for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Roles a service account's tokens carry (client credentials only).
    #[serde(default)]
    pub roles: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access"].map(String::from).to_vec()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    pub email: String,
    /// A secret: from FLOTILLA_SERVICES__IDENTITY__ADMIN__PASSWORD or a mounted file, never a file
    /// in the repository. There is no default password.
    pub password: SecretString,
}

/// One count's rule, `services.identity.throttle.<pair|account|address>`; what is left out takes
/// that count's default.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSettings {
    /// Failures that cost nothing...
    pub after_failures: Option<u32>,
    /// ...then the wait after the next one, doubled per further failure...
    pub base_delay_s: Option<u64>,
    /// ...up to this.
    pub max_delay_s: Option<u64>,
    /// A count is forgotten this long after its last failure.
    pub forget_after_s: Option<u64>,
}

/// The rule's values: its own where set, else the count's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RuleValues {
    after_failures: u32,
    base_delay_s: u64,
    max_delay_s: u64,
    forget_after_s: u64,
}

impl RuleSettings {
    fn or(self, defaults: RuleValues) -> RuleValues {
        RuleValues {
            after_failures: self.after_failures.unwrap_or(defaults.after_failures),
            base_delay_s: self.base_delay_s.unwrap_or(defaults.base_delay_s),
            max_delay_s: self.max_delay_s.unwrap_or(defaults.max_delay_s),
            forget_after_s: self.forget_after_s.unwrap_or(defaults.forget_after_s),
        }
    }
}

/// An account from one address: the guessing a stranger does, slowed hard.
const PAIR: RuleValues = RuleValues { after_failures: 5, base_delay_s: 1, max_delay_s: 900, forget_after_s: 86_400 };
/// An account from every address: generous and briefly capped, so that it only ever slows.
const ACCOUNT: RuleValues = RuleValues { after_failures: 20, base_delay_s: 1, max_delay_s: 60, forget_after_s: 3_600 };
/// An address against every account (credential stuffing); briefly capped, since many people
/// can share one address.
const ADDRESS: RuleValues = RuleValues { after_failures: 100, base_delay_s: 1, max_delay_s: 60, forget_after_s: 3_600 };

/// A year: no count needs remembering longer.
const MAX_THROTTLE_S: u64 = 365 * 86_400;

/// `services.identity.throttle`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    pub pair: RuleSettings,
    pub account: RuleSettings,
    pub address: RuleSettings,
}

impl ThrottleSettings {
    fn rules(&self) -> [(&'static str, RuleValues); 3] {
        [("pair", self.pair.or(PAIR)), ("account", self.account.or(ACCOUNT)), ("address", self.address.or(ADDRESS))]
    }

    fn validate(&self) -> Result<(), String> {
        for (name, rule) in self.rules() {
            let key = format!("services.identity.throttle.{name}");
            if rule.forget_after_s > MAX_THROTTLE_S {
                return Err(format!(
                    "{key}.forget_after_s: found {}, expected at most {MAX_THROTTLE_S}",
                    rule.forget_after_s
                ));
            }
            if rule.base_delay_s == 0 {
                return Err(format!("{key}.base_delay_s: found 0, expected a positive number"));
            }
            if rule.max_delay_s < rule.base_delay_s {
                return Err(format!("{key}.max_delay_s: must be at least base_delay_s"));
            }
            if rule.forget_after_s < rule.max_delay_s {
                return Err(format!("{key}.forget_after_s: must be at least max_delay_s"));
            }
        }
        Ok(())
    }

    pub fn policy(&self) -> Policy {
        let [pair, account, address] = self.rules().map(|(_, rule)| Rule {
            after_failures: rule.after_failures,
            base_delay: seconds(rule.base_delay_s),
            max_delay: seconds(rule.max_delay_s),
            forget_after: seconds(rule.forget_after_s),
        });
        Policy { pair, account, address }
    }
}

pub(crate) fn seconds(s: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySettings {
    pub access_token_ttl_s: u64,
    pub id_token_ttl_s: u64,
    pub refresh_token_ttl_s: u64,
    pub authorization_code_ttl_s: u64,
    /// A new signing key is made this often...
    pub key_rotation_s: u64,
    /// ...and published this long before it signs, so verifiers' caches have it in time.
    pub key_prepublish_s: u64,
    /// How failed sign-ins slow the next attempt down (`domain::throttle`).
    pub throttle: ThrottleSettings,
    /// Sign-in and registration attempts per client address per minute.
    pub sign_in_per_minute: u32,
    /// Peers whose X-Forwarded-For is believed; everyone else is their own address. Unset, the
    /// gateway (see [`IdentitySettings::with_gateway_proxy`]).
    pub trusted_proxies: Option<Vec<IpAddr>>,
    pub admin: Option<AdminSettings>,
    pub clients: BTreeMap<String, ClientSettings>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            access_token_ttl_s: 300,
            id_token_ttl_s: 300,
            refresh_token_ttl_s: 30 * 24 * 3600,
            authorization_code_ttl_s: 60,
            key_rotation_s: 7 * 24 * 3600,
            key_prepublish_s: 600,
            throttle: ThrottleSettings::default(),
            sign_in_per_minute: 20,
            trusted_proxies: None,
            admin: None,
            clients: BTreeMap::new(),
        }
    }
}

impl IdentitySettings {
    /// Where the system has a public URL (a gateway), the gateway is a registered client that
    /// signs browsers in at `<public_url>/auth/callback`, unless configured with redirect URIs of
    /// its own: wherever the system is reached, sign-in follows.
    pub fn with_gateway_callback(mut self, public_url: Option<&str>) -> Self {
        let Some(public_url) = public_url else { return self };
        let gateway = self.clients.entry("gateway".to_owned()).or_insert_with(|| ClientSettings {
            secret: None,
            redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: default_scopes(),
            roles: Vec::new(),
        });
        if gateway.redirect_uris.is_empty() {
            gateway.redirect_uris.push(format!("{}/auth/callback", public_url.trim_end_matches('/')));
        }
        self
    }

    /// Behind the gateway every client would be the gateway's address, and one client's attempts
    /// would use up everyone's. Unless `trusted_proxies` is configured, the gateway's host (where
    /// its URL names an IP address, as embedded) is the proxy whose X-Forwarded-For is believed.
    /// A gateway named by DNS is not resolved here: its replicas' addresses are the deployment's
    /// to list.
    pub fn with_gateway_proxy(mut self, gateway_url: Option<&str>) -> Self {
        let gateway = gateway_url.and_then(|url| url::Url::parse(url).ok()).and_then(|url| match url.host()? {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        });
        self.trusted_proxies.get_or_insert_with(|| gateway.into_iter().collect());
        self
    }

    pub fn trusted_proxies(&self) -> &[IpAddr] {
        self.trusted_proxies.as_deref().unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("access_token_ttl_s", self.access_token_ttl_s),
            ("id_token_ttl_s", self.id_token_ttl_s),
            ("refresh_token_ttl_s", self.refresh_token_ttl_s),
            ("authorization_code_ttl_s", self.authorization_code_ttl_s),
            ("key_rotation_s", self.key_rotation_s),
            ("key_prepublish_s", self.key_prepublish_s),
            ("sign_in_per_minute", u64::from(self.sign_in_per_minute)),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!("services.identity.{key}: found 0, expected a positive number"));
        }
        if self.key_prepublish_s >= self.key_rotation_s {
            return Err("services.identity.key_prepublish_s: must be shorter than key_rotation_s".into());
        }
        self.throttle.validate()?;
        if let Some(admin) = &self.admin {
            crate::domain::credentials::email(&admin.email)
                .map_err(|e| format!("services.identity.admin.email: {e}"))?;
        }
        for (id, client) in &self.clients {
            let key = format!("services.identity.clients.{id}");
            if client.grant_types.contains(&GrantType::ClientCredentials) && client.secret.is_none() {
                return Err(format!("{key}.secret: a client_credentials client needs a secret"));
            }
            if client.grant_types.contains(&GrantType::AuthorizationCode) && client.redirect_uris.is_empty() {
                return Err(format!("{key}.redirect_uris: an authorization_code client needs at least one"));
            }
            for uri in &client.redirect_uris {
                crate::domain::clients::check_redirect_uri(uri).map_err(|e| format!("{key}.redirect_uris: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_s)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn proxies(settings: IdentitySettings, gateway_url: Option<&str>) -> Vec<IpAddr> {
        settings.with_gateway_proxy(gateway_url).trusted_proxies().to_vec()
    }

    #[test]
    fn the_gateway_is_the_trusted_proxy_unless_proxies_are_configured() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none: [IpAddr; 0] = [];
        let unset = IdentitySettings::default;
        assert_eq!(proxies(unset(), Some("http://127.0.0.1:8080")), [ip("127.0.0.1")]);
        assert_eq!(proxies(unset(), Some("http://[::1]:8080")), [ip("::1")]);
        assert_eq!(proxies(unset(), Some("http://gateway.flotilla.svc:8080")), none, "a DNS name is not guessed at");
        assert_eq!(proxies(unset(), None), none);
        let configured = |list: Vec<IpAddr>| IdentitySettings { trusted_proxies: Some(list), ..unset() };
        assert_eq!(
            proxies(configured(vec![]), Some("http://127.0.0.1:8080")),
            none,
            "an explicit empty list stays empty"
        );
        assert_eq!(proxies(configured(vec![ip("10.0.0.5")]), Some("http://127.0.0.1:8080")), [ip("10.0.0.5")]);
    }

    #[test]
    fn a_throttle_rule_set_in_part_keeps_its_own_defaults_for_the_rest() {
        let settings: IdentitySettings =
            serde_json::from_value(json!({"throttle": {"pair": {"base_delay_s": 600}}})).unwrap();
        let policy = settings.throttle.policy();
        assert_eq!(policy.pair.base_delay, time::Duration::seconds(600));
        assert_eq!((policy.pair.after_failures, policy.pair.max_delay), (5, time::Duration::minutes(15)));
        assert_eq!((policy.account.after_failures, policy.account.max_delay), (20, time::Duration::minutes(1)));
        assert_eq!((policy.address.after_failures, policy.address.forget_after), (100, time::Duration::hours(1)));
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn a_throttle_rule_that_makes_no_sense_names_its_key() {
        for (throttle, key) in [
            (json!({"pair": {"base_delay_s": 0}}), "services.identity.throttle.pair.base_delay_s"),
            (json!({"account": {"max_delay_s": 0}}), "services.identity.throttle.account.max_delay_s"),
            (json!({"address": {"forget_after_s": 10}}), "services.identity.throttle.address.forget_after_s"),
            (json!({"pair": {"forget_after_s": 400 * 86_400}}), "services.identity.throttle.pair.forget_after_s"),
        ] {
            let settings: IdentitySettings = serde_json::from_value(json!({"throttle": throttle})).unwrap();
            assert!(settings.validate().unwrap_err().starts_with(key), "{key}");
        }
        let lockout = serde_json::from_value::<IdentitySettings>(json!({"lockout_after_failures": 5}));
        assert!(lockout.unwrap_err().to_string().contains("unknown field"), "the lockout's keys are gone");
    }
}
