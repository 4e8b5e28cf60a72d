//! `services.gateway.*`: the upstreams with their timeouts, retries and breakers, the per-client
//! rate limit, CORS, trusted proxies and the browser session.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::breaker;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    pub consecutive_failures: u32,
    pub error_rate: f64,
    pub window: usize,
    pub min_requests: usize,
    pub open_ms: u64,
    pub half_open_probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_rate: 0.5,
            window: 20,
            min_requests: 10,
            open_ms: 5000,
            half_open_probes: 1,
        }
    }
}

impl BreakerSettings {
    pub fn policy(&self) -> breaker::Policy {
        breaker::Policy {
            consecutive_failures: self.consecutive_failures,
            error_rate: self.error_rate,
            window: self.window,
            min_requests: self.min_requests,
            open_for: Duration::from_millis(self.open_ms),
            half_open_probes: self.half_open_probes,
        }
    }
}

/// One service behind the gateway: `/api/v1/<name>/...` goes to `url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Loopback ports embedded, DNS names in Kubernetes (`http://catalog:8082`).
    pub url: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra attempts for idempotent requests after a connection failure, timeout or 502/503/504.
    #[serde(default = "default_retries")]
    pub retries: usize,
    #[serde(default)]
    pub breaker: BreakerSettings,
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_retries() -> usize {
    2
}

fn upstream(url: &str) -> UpstreamSettings {
    UpstreamSettings {
        url: url.into(),
        timeout_ms: default_timeout_ms(),
        retries: default_retries(),
        breaker: BreakerSettings::default(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Read by the chassis; listed so that typos elsewhere are caught.
    #[serde(rename = "port")]
    pub _port: Option<u16>,
    /// Where browsers reach the gateway; the sign-in callback is `<public_url>/auth/callback`.
    pub public_url: String,
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
            _port: None,
            public_url: "http://127.0.0.1:8080".into(),
            upstreams: BTreeMap::from([
                ("identity".to_owned(), upstream("http://127.0.0.1:8081")),
                ("catalog".to_owned(), upstream("http://127.0.0.1:8082")),
            ]),
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
    pub fn validate(&self) -> Result<(), String> {
        let public = url::Url::parse(&self.public_url)
            .map_err(|e| format!("services.gateway.public_url: found \"{}\": {e}", self.public_url))?;
        if !matches!(public.scheme(), "http" | "https") {
            return Err("services.gateway.public_url: must be an http or https URL".into());
        }
        for (name, upstream) in &self.upstreams {
            let key = format!("services.gateway.upstreams.{name}");
            if !name.chars().all(|c| c.is_ascii_lowercase() || c == '-') || name.is_empty() {
                return Err(format!("{key}: an upstream name is a context name: a-z and -"));
            }
            let url =
                url::Url::parse(&upstream.url).map_err(|e| format!("{key}.url: found \"{}\": {e}", upstream.url))?;
            if !matches!(url.scheme(), "http" | "https") || url.path() != "/" {
                return Err(format!(
                    "{key}.url: expected http(s)://host:port with no path, found \"{}\"",
                    upstream.url
                ));
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
