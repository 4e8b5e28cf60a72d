//! What a request says about its client: its address (for rate limits and audit logs) and its cookies.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The client's address: the peer itself, unless the peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Anyone else's
/// X-Forwarded-For is ignored, since a client can write whatever it likes there.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = peer.ip().to_canonical();
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded.into_iter().rev().map(|ip| ip.to_canonical()).find(|ip| !trusted_proxies.contains(ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let gateway: IpAddr = "10.0.0.5".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
        let from = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 1234);
        assert_eq!(client_ip(from("10.0.0.5"), &headers, &[gateway]), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(from("198.51.100.1"), &headers, &[gateway]), "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(from("10.0.0.5"), &HeaderMap::new(), &[gateway]), gateway);
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", "a=1; session=xyz".parse().unwrap());
        headers.append("cookie", "sessionx=no".parse().unwrap());
        assert_eq!(cookie(&headers, "session"), Some("xyz"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
