//! `services.gateway.*`: the upstreams with their timeouts, retries and breakers, the per-client
//! rate limit, CORS, trusted proxies and the browser session.

use std::collections::BTreeMap;
use std::net::IpAddr;

use secrecy::SecretString;
use serde::Deserialize;

use flotilla_chassis::config::ServiceAddress;

use flotilla_chassis::breaker::BreakerSettings;

/// How the gateway treats one service behind it: `/api/v1/<name>/...` goes to its URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    /// Only for an upstream that is not a registered service: a registered one is reached at its
    /// `services.<name>.url` (loopback embedded, a DNS name in Kubernetes).
    pub url: Option<String>,
    pub timeout_ms: u64,
    /// Extra attempts for idempotent requests after a connection failure, timeout or 502/503/504.
    pub retries: usize,
    pub breaker: BreakerSettings,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self { url: None, timeout_ms: 5000, retries: 2, breaker: BreakerSettings::default() }
    }
}

/// An upstream with its address settled.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub url: String,
    pub settings: UpstreamSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Where browsers reach the system (`public_url`, resolved by the chassis); the sign-in
    /// callback is `<public_url>/auth/callback`.
    #[serde(skip)]
    pub public_url: String,
    /// Per-upstream timeouts, retries and breakers; every registered service with a public API
    /// is an upstream whether listed here or not.
    pub upstreams: BTreeMap<String, UpstreamSettings>,
    /// Token bucket per client (the token's subject, else the client address).
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub trusted_proxies: Vec<IpAddr>,
    /// Origins allowed to call the API from another site's pages; none by default.
    pub cors_allowed_origins: Vec<String>,
    /// The gateway's registration at the identity provider.
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub session_idle_s: u64,
    pub session_max_s: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            upstreams: BTreeMap::new(),
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            trusted_proxies: Vec::new(),
            cors_allowed_origins: Vec::new(),
            client_id: "gateway".into(),
            client_secret: None,
            session_idle_s: 30 * 60,
            session_max_s: 12 * 3600,
        }
    }
}

impl GatewaySettings {
    /// The upstreams: every service in `directory` with a public API, at its URL, and any
    /// other upstream configured with a URL of its own; each with its settings.
    pub fn routes(&self, directory: &[ServiceAddress]) -> Result<Vec<Route>, String> {
        let mut routes: Vec<Route> = directory
            .iter()
            .filter(|service| service.public_api)
            .map(|service| {
                let settings = self.upstreams.get(&service.name).cloned().unwrap_or_default();
                let url = settings.url.clone().unwrap_or_else(|| service.url.clone());
                Route { name: service.name.clone(), url, settings }
            })
            .collect();
        for (name, settings) in &self.upstreams {
            if routes.iter().any(|route| route.name == *name) {
                continue;
            }
            let url = settings.url.clone().ok_or_else(|| {
                format!("services.gateway.upstreams.{name}.url: {name} is not a registered service, so it needs a url")
            })?;
            routes.push(Route { name: name.clone(), url, settings: settings.clone() });
        }
        Ok(routes)
    }

    pub fn validate(&self, routes: &[Route]) -> Result<(), String> {
        for Route { name, url, settings: upstream } in routes {
            let key = format!("services.gateway.upstreams.{name}");
            if !name.chars().all(|c| c.is_ascii_lowercase() || c == '-') || name.is_empty() {
                return Err(format!("{key}: an upstream name is a context name: a-z and -"));
            }
            let parsed = url::Url::parse(url).map_err(|e| format!("{key}.url: found \"{url}\": {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.path() != "/" {
                return Err(format!("{key}.url: expected http(s)://host:port with no path, found \"{url}\""));
            }
            let b = &upstream.breaker;
            if upstream.timeout_ms == 0 || b.consecutive_failures == 0 || b.window == 0 || b.half_open_probes == 0 {
                return Err(format!("{key}: timeout_ms and the breaker's counts must be positive"));
            }
            if !(b.error_rate > 0.0 && b.error_rate <= 1.0) {
                return Err(format!("{key}.breaker.error_rate: expected a share in (0, 1], found {}", b.error_rate));
            }
        }
        if self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            return Err("services.gateway.rate_limit_per_second and rate_limit_burst must be positive".into());
        }
        for origin in &self.cors_allowed_origins {
            let parsed = url::Url::parse(origin)
                .map_err(|e| format!("services.gateway.cors_allowed_origins: \"{origin}\": {e}"))?;
            if parsed.origin().ascii_serialization() != *origin {
                return Err(format!(
                    "services.gateway.cors_allowed_origins: \"{origin}\" is not an origin (scheme://host[:port], no path)"
                ));
            }
        }
        Ok(())
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn redirect_uri(&self) -> String {
        format!("{}/auth/callback", self.public_url.trim_end_matches('/'))
    }
}
