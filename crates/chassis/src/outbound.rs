//! The HTTP client every outgoing call uses: rustls on ring, the tree's one TLS stack.

use std::time::Duration;

/// How long a pooled connection may sit idle. Our servers close a keep-alive connection that
/// stays idle for `http.header_read_timeout_ms` (30 s by default); letting ours go well before
/// that keeps a request from being written into a connection the server is closing.
pub const POOL_IDLE: Duration = Duration::from_secs(15);

/// A client builder with ring installed as the process's rustls provider, which reqwest needs
/// because it is built without one of its own (see the workspace manifest).
pub fn builder() -> reqwest::ClientBuilder {
    // An Err means a provider is already installed, which is all this needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().pool_idle_timeout(POOL_IDLE)
}

/// A client with `timeout` per request (and per connection attempt).
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    builder().timeout(timeout).connect_timeout(timeout).build()
}
