//! `services.notifications.*`: the sender, the relay, retries and the mail sink.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::retry::RetryPolicy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The sender of every mail, `Name <address>` or a bare address. Its domain also names the
    /// mails' Message-IDs and the EHLO greeting.
    pub from: String,
    /// How often the delivery worker looks for mail that is due even when nothing woke it (a
    /// retry coming due, mail recorded by another replica).
    pub poll_interval_ms: u64,
    pub smtp: SmtpSettings,
    pub retry: RetrySettings,
    pub sink: SinkSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            from: "Flotilla <orders@flotilla.localhost>".into(),
            poll_interval_ms: 1000,
            smtp: SmtpSettings::default(),
            retry: RetrySettings::default(),
            sink: SinkSettings::default(),
        }
    }
}

/// The relay mail is handed to. Without a host, mail goes to the sink (when it is enabled).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: Option<String>,
    /// Defaults by `tls`: 25 for none, 587 for STARTTLS, 465 for TLS.
    pub port: Option<u16>,
    pub tls: TlsMode,
    pub username: Option<String>,
    /// Set with `FLOTILLA_SERVICES__NOTIFICATIONS__SMTP__PASSWORD`, never in a file.
    pub password: Option<SecretString>,
    /// The longest one delivery may take, connection to acceptance; also each command's limit.
    pub timeout_ms: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self { host: None, port: None, tls: TlsMode::Starttls, username: None, password: None, timeout_ms: 30_000 }
    }
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP: for a relay on the same host or a private network only.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (no silent fallback).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl TlsMode {
    fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::Starttls => 587,
            Self::Tls => 465,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Attempts in all before a notification is `failed`.
    pub max_attempts: u32,
    /// Attempts after which a permanent (5xx) refusal is final.
    pub max_permanent_attempts: u32,
    /// The first retry's delay ceiling; it doubles per attempt up to `max_ms`.
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self { max_attempts: 10, max_permanent_attempts: 3, base_ms: 1000, max_ms: 600_000 }
    }
}

/// The embedded mail sink: an SMTP server that keeps what it receives, for development.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkSettings {
    /// Defaults to true in dev, false elsewhere.
    pub enabled: Option<bool>,
    /// Loopback unless said otherwise: the sink takes mail from anyone who can reach it.
    pub host: IpAddr,
    /// 0 for any free port.
    pub port: u16,
    pub max_message_bytes: usize,
    /// The newest messages kept; older ones are deleted as new ones arrive.
    pub max_messages: u32,
    pub max_connections: usize,
    /// A connection silent this long is closed (421).
    pub idle_timeout_ms: u64,
}

impl Default for SinkSettings {
    fn default() -> Self {
        Self {
            enabled: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 2525,
            max_message_bytes: 1024 * 1024,
            max_messages: 1000,
            max_connections: 32,
            idle_timeout_ms: 60_000,
        }
    }
}

/// Where deliveries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Relay {
        host: String,
        port: u16,
        tls: TlsMode,
    },
    /// The embedded sink, at the address it listens on.
    Sink(SocketAddr),
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("services.notifications.{key}: {message}")]
pub struct Invalid {
    pub key: &'static str,
    pub message: String,
}

impl Settings {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn smtp_timeout(&self) -> Duration {
        Duration::from_millis(self.smtp.timeout_ms)
    }

    pub fn retry_policy(&self) -> Result<RetryPolicy, Invalid> {
        let r = &self.retry;
        if r.max_attempts == 0 || r.max_permanent_attempts == 0 {
            return Err(Invalid { key: "retry", message: "at least one attempt must be allowed".into() });
        }
        if r.base_ms == 0 || r.max_ms < r.base_ms {
            return Err(Invalid { key: "retry", message: "base_ms must be positive and at most max_ms".into() });
        }
        Ok(RetryPolicy {
            max_attempts: r.max_attempts,
            max_permanent_attempts: r.max_permanent_attempts,
            base: Duration::from_millis(r.base_ms),
            max: Duration::from_millis(r.max_ms),
        })
    }

    /// Checks what the worker and the sink rely on, before anything starts.
    pub fn check(&self) -> Result<(), Invalid> {
        self.retry_policy()?;
        if self.poll_interval_ms < 10 {
            return Err(Invalid { key: "poll_interval_ms", message: "must be at least 10".into() });
        }
        if self.smtp.timeout_ms == 0 {
            return Err(Invalid { key: "smtp.timeout_ms", message: "must be positive".into() });
        }
        if self.smtp.password.is_some() && self.smtp.username.is_none() {
            return Err(Invalid { key: "smtp.password", message: "is set without smtp.username".into() });
        }
        if self.sink.max_message_bytes < 1024 || self.sink.max_connections == 0 || self.sink.idle_timeout_ms == 0 {
            return Err(Invalid {
                key: "sink",
                message: "max_message_bytes must be at least 1024, max_connections and idle_timeout_ms positive".into(),
            });
        }
        Ok(())
    }

    /// The configured relay; else the sink at `sink` (where it listens) if it runs; else nowhere,
    /// which is a configuration error rather than mail silently piling up.
    pub fn target(&self, sink: Option<SocketAddr>) -> Result<Target, Invalid> {
        if let Some(host) = self.smtp.host.as_ref().filter(|h| !h.trim().is_empty()) {
            let tls = self.smtp.tls;
            let port = self.smtp.port.unwrap_or(tls.default_port());
            return Ok(Target::Relay { host: host.trim().to_owned(), port, tls });
        }
        match sink {
            Some(addr) => Ok(Target::Sink(reachable(addr))),
            None => Err(Invalid {
                key: "smtp.host",
                message: "no mail relay is configured and the sink is disabled; set smtp.host (or sink.enabled)".into(),
            }),
        }
    }
}

/// A listening address as a client dials it: a wildcard address means this host's loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port()),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_wins_over_the_sink_and_its_port_follows_tls() {
        let mut settings = Settings::default();
        let sink = "0.0.0.0:2525".parse().ok();
        assert_eq!(settings.target(sink).unwrap(), Target::Sink("127.0.0.1:2525".parse().unwrap()));
        settings.smtp.host = Some("mail.example.com".into());
        let relay = |port, tls| Target::Relay { host: "mail.example.com".into(), port, tls };
        assert_eq!(settings.target(sink).unwrap(), relay(587, TlsMode::Starttls));
        settings.smtp.tls = TlsMode::Tls;
        assert_eq!(settings.target(None).unwrap(), relay(465, TlsMode::Tls));
        settings.smtp.port = Some(2500);
        assert_eq!(settings.target(None).unwrap(), relay(2500, TlsMode::Tls));
    }

    #[test]
    fn no_relay_and_no_sink_is_an_error() {
        let error = Settings::default().target(None).unwrap_err();
        assert_eq!(error.key, "smtp.host");
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        assert!(Settings::default().check().is_ok());
        let mut zero = Settings::default();
        zero.retry.max_attempts = 0;
        assert!(zero.check().is_err());
        let mut lonely = Settings::default();
        lonely.smtp.password = Some(SecretString::from("hunter2"));
        assert!(lonely.check().is_err());
        assert!(!format!("{lonely:?}").contains("hunter2"), "the password never prints");
    }
}
