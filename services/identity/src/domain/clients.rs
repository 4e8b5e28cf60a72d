//! Registered clients: redirect URIs compared exactly, and the scopes a client may be granted.

use std::collections::BTreeSet;

use url::Url;

/// A redirect URI as it may be registered: absolute, without fragment or credentials, https
/// unless it points at this machine (RFC 8252 loopback redirects for development).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("\"{uri}\" is not an absolute URL: {e}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
        return Err(format!("\"{uri}\" must use https (plain http only on loopback)"));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("\"{uri}\" must have no fragment and no credentials"));
    }
    Ok(())
}

/// Exact string comparison (RFC 9700 §4.1.3): no prefix, pattern or normalisation, so there is
/// no redirect a registration did not name.
pub fn redirect_registered(registered: &[String], uri: &str) -> bool {
    registered.iter().any(|r| r == uri)
}

/// The requested scopes, all of which must be allowed; else the first one that is not.
pub fn granted_scopes(requested: &str, allowed: &[String]) -> Result<BTreeSet<String>, String> {
    let mut granted = BTreeSet::new();
    for scope in requested.split_whitespace() {
        if !allowed.iter().any(|a| a == scope) {
            return Err(scope.to_owned());
        }
        granted.insert(scope.to_owned());
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exactly_registered_redirects_match() {
        let registered = vec!["https://shop.example/cb".to_owned()];
        assert!(redirect_registered(&registered, "https://shop.example/cb"));
        for other in [
            "https://shop.example/cb/",
            "https://shop.example/cb?x=1",
            "https://shop.example/CB",
            "https://shop.example.evil/cb",
            "https://shop.example/cb#f",
        ] {
            assert!(!redirect_registered(&registered, other), "{other}");
        }
    }

    #[test]
    fn registrable_redirects_are_https_or_loopback() {
        assert!(check_redirect_uri("https://shop.example/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:8080/auth/callback").is_ok());
        for bad in [
            "http://shop.example/cb",
            "https://shop.example/cb#x",
            "https://u:p@shop.example/cb",
            "/relative",
            "javascript:alert(1)",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_scope_outside_the_allowed_set_is_named() {
        let allowed = vec!["openid".to_owned(), "email".to_owned()];
        assert_eq!(granted_scopes("openid  email", &allowed).unwrap().len(), 2);
        assert_eq!(granted_scopes("openid admin", &allowed).unwrap_err(), "admin");
        assert!(granted_scopes("", &allowed).unwrap().is_empty());
    }
}
