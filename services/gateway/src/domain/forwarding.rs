//! What crosses the gateway: hop-by-hop headers stop here (RFC 9110 §7.6.1), cookies stop here
//! (they are the gateway's; services take bearer tokens), forwarding headers are rewritten by
//! the gateway, never passed on from the client.

/// Request headers the gateway never forwards upstream.
pub fn drop_request_header(name: &str) -> bool {
    is_hop_by_hop(name)
        || matches!(
            name,
            "host"
                | "cookie"
                | "x-forwarded-for"
                | "x-forwarded-host"
                | "x-forwarded-proto"
                | "forwarded"
                | "x-csrf-token"
        )
}

/// Response headers the gateway never passes back.
pub fn drop_response_header(name: &str) -> bool {
    is_hop_by_hop(name) || name == "set-cookie"
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Methods that may be sent twice with the effect of once (RFC 9110 §9.2.2): the only ones the
/// gateway retries.
pub fn idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE")
}

/// Where a browser may be sent after signing in: a path on this site, never another origin
/// (`//evil.example` and `/\evil.example` are other origins to a browser).
pub fn safe_return_path(candidate: &str) -> Option<&str> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && !candidate.chars().any(|c| c.is_control() || c == '\\')
        && candidate.len() <= 2048;
    ok.then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_return_targets() {
        assert_eq!(safe_return_path("/basket?x=1"), Some("/basket?x=1"));
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "/a\r\nb", ""] {
            assert_eq!(safe_return_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cookies_forwarding_headers_and_hop_by_hop_headers_stay_here() {
        for name in ["cookie", "connection", "x-forwarded-for", "host", "transfer-encoding", "x-csrf-token"] {
            assert!(drop_request_header(name), "{name}");
        }
        for name in ["authorization", "content-type", "if-match", "idempotency-key", "traceparent"] {
            assert!(!drop_request_header(name), "{name}");
        }
        assert!(drop_response_header("set-cookie"));
        assert!(idempotent("PUT") && !idempotent("POST") && !idempotent("PATCH"));
    }
}
