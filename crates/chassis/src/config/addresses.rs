//! Where every service listens and how the others reach it: derived in one place from the
//! registry and the resolved layers, so that moving one port with one variable moves everything
//! that points at it.
//!
//! Embedded, a service's URL is its port on loopback. Distributed, operators set
//! `services.<name>.url` (a Kubernetes DNS name) and nothing else. `auth.issuer` defaults to the
//! identity service's URL and `public_url` (where browsers reach the system) to the gateway's.

use std::net::IpAddr;

use figment::providers::Serialized;

use super::{Config, ConfigError};
use crate::service::ServiceDefinition;

/// The keys of a `services.<name>` section the chassis owns; a service's own settings type never
/// sees them.
pub(super) const CHASSIS_KEYS: [&str; 4] = ["port", "ops_port", "url", "public_api"];

/// One registered service as the others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddress {
    pub name: String,
    pub port: u16,
    /// `http(s)://host:port` with no path.
    pub url: String,
    /// Its API is served under `/api/v1/<name>/` and routed by the gateway.
    pub public_api: bool,
}

impl Config {
    /// Fixes every registered service's port and URL, and what derives from them, into the
    /// configuration. Run once, by whoever assembles the system (the `flotilla` binary).
    pub fn resolve_addresses(&self, services: &[&ServiceDefinition]) -> Result<Self, ConfigError> {
        let host = reachable_host(self.settings.http.host);
        let mut figment = self.figment.clone();
        let mut resolved = Vec::with_capacity(services.len());
        for service in services {
            let name = service.name;
            let port = self.service_port(name, service.default_port)?;
            let key = format!("services.{name}.url");
            let url = match self.optional::<String>(&key)? {
                Some(url) => check_base_url(&key, &url)?,
                None => format!("http://{host}:{port}"),
            };
            figment = figment
                .merge(Serialized::default(&format!("services.{name}.port"), port))
                .merge(Serialized::default(&key, &url))
                .merge(Serialized::default(&format!("services.{name}.public_api"), service.public_api));
            resolved.push((name, url));
        }
        let url = |name: &str| resolved.iter().find(|(n, _)| *n == name).map(|(_, url)| url.clone());
        if self.settings.auth.issuer.is_none()
            && let Some(identity) = url("identity")
        {
            figment = figment.merge(Serialized::default("auth.issuer", identity));
        }
        if self.settings.public_url.is_none()
            && let Some(gateway) = url("gateway")
        {
            figment = figment.merge(Serialized::default("public_url", gateway));
        }
        Self::from_figment(figment)
    }

    /// Every service [`Config::resolve_addresses`] fixed, in name order.
    pub fn directory(&self) -> Vec<ServiceAddress> {
        self.settings
            .services
            .keys()
            .filter_map(|name| {
                let key = |field: &str| format!("services.{name}.{field}");
                Some(ServiceAddress {
                    name: name.clone(),
                    port: self.figment.extract_inner(&key("port")).ok()?,
                    url: self.figment.extract_inner(&key("url")).ok()?,
                    public_api: self.figment.extract_inner(&key("public_api")).ok()?,
                })
            })
            .collect()
    }

    /// How other services reach `name`, once addresses are resolved.
    pub fn service_url(&self, name: &str) -> Option<String> {
        self.directory().into_iter().find(|s| s.name == name).map(|s| s.url)
    }
}

/// Where a listener on `host` is reached from this machine: the unspecified address listens on
/// every interface, loopback among them.
fn reachable_host(host: IpAddr) -> String {
    match host {
        IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".into(),
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// A service's base URL: http or https, a host, no path, query or fragment.
pub(super) fn check_base_url(key: &str, url: &str) -> Result<String, ConfigError> {
    let invalid = |why: String| ConfigError::Invalid { key: key.into(), message: why };
    let parsed = url::Url::parse(url).map_err(|e| invalid(format!("found \"{url}\": {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host().is_none()
        || parsed.path() != "/"
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(invalid(format!("found \"{url}\", expected http(s)://host[:port] with no path")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}
