//! The HTTP client every outgoing call uses: rustls on ring, the tree's one TLS stack.

use std::time::Duration;

/// A client builder with ring installed as the process's rustls provider, which reqwest needs
/// because it is built without one of its own (see the workspace manifest).
pub fn builder() -> reqwest::ClientBuilder {
    // An Err means a provider is already installed, which is all this needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A client with `timeout` per request (and per connection attempt).
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    builder().timeout(timeout).connect_timeout(timeout).build()
}
