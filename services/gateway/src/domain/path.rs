//! Which request paths the gateway forwards, decided once, on the path as it arrived.
//!
//! The gateway chooses a service from the path and the HTTP client then resolves the same path
//! again (RFC 3986 §5.2.4), so `/api/v1/catalog/../../metrics` would be chosen as the catalog's
//! and arrive as `/metrics`. Nothing that a later step could read as a dot segment or a
//! separator is forwarded: `.` and `..` in any encoding, backslashes (which URL parsers treat as
//! `/`), encoded slashes, control characters. The query is the service's to read.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

pub const PREFIX: &str = "/api/v1/";

/// Why a path is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not under `/api/v1/<context>/`: the gateway's own routes answer everything else.
    NotRouted,
    DotSegment,
    Separator,
    ControlCharacter,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Self::NotRouted => "only /api/v1/<context>/... is routed to a service",
            Self::DotSegment => "the path has a dot segment (. or .., in any encoding); send the resolved path",
            Self::Separator => "the path has a backslash or an encoded slash",
            Self::ControlCharacter => "the path has a control character",
        }
    }
}

/// The context (`catalog` in `/api/v1/catalog/products`) that `path` is forwarded to.
pub fn context(path: &str) -> Result<&str, Refusal> {
    let rest = path.strip_prefix(PREFIX).ok_or(Refusal::NotRouted)?;
    for segment in rest.split('/') {
        check(segment)?;
    }
    match rest.split('/').next() {
        Some(context) if !context.is_empty() => Ok(context),
        _ => Err(Refusal::NotRouted),
    }
}

fn check(segment: &str) -> Result<(), Refusal> {
    let once = decoded(segment);
    // A second decoding catches `%252e`, for whatever behind us decodes once more.
    let twice = decoded(&once);
    for form in [segment, &once, &twice] {
        let bytes = form.as_bytes();
        if bytes.iter().any(|b| *b < 0x20 || *b == 0x7f) {
            return Err(Refusal::ControlCharacter);
        }
        if bytes.iter().any(|b| matches!(b, b'\\' | b'/')) {
            return Err(Refusal::Separator);
        }
        // `..;x` is a dot segment to servers that strip path parameters.
        let name = form.split(';').next().unwrap_or_default();
        if name == "." || name == ".." {
            return Err(Refusal::DotSegment);
        }
    }
    Ok(())
}

fn decoded(segment: &str) -> Cow<'_, str> {
    percent_decode_str(segment).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_name_their_context() {
        for (path, context) in [
            ("/api/v1/catalog/products", "catalog"),
            ("/api/v1/catalog/products/0193/", "catalog"),
            ("/api/v1/basket/baskets/me/items/x", "basket"),
            ("/api/v1/catalog/products/a.b/..x/.well", "catalog"),
            ("/api/v1/catalog/products/caf%C3%A9%20noir", "catalog"),
            ("/api/v1/payment-provider", "payment-provider"),
        ] {
            assert_eq!(super::context(path), Ok(context), "{path}");
        }
    }

    #[test]
    fn dot_segments_are_refused_in_every_spelling() {
        for path in [
            "/api/v1/catalog/../../../metrics",
            "/api/v1/catalog/./products",
            "/api/v1/..",
            "/api/v1/catalog/%2e%2e/%2e%2e/metrics",
            "/api/v1/catalog/%2E%2E/admin",
            "/api/v1/catalog/.%2e/x",
            "/api/v1/catalog/%2e./x",
            "/api/v1/catalog/%2e",
            "/api/v1/catalog/%252e%252e/x",
            "/api/v1/catalog/..;/metrics",
            "/api/v1/catalog/..%3b/metrics",
        ] {
            assert_eq!(context(path), Err(Refusal::DotSegment), "{path}");
        }
    }

    #[test]
    fn backslashes_encoded_slashes_and_control_characters_are_refused() {
        for path in [
            "/api/v1/catalog/..\\..\\metrics",
            "/api/v1/catalog\\..\\metrics",
            "/api/v1/catalog/%5c..%5cmetrics",
            "/api/v1/catalog/..%2f..%2fmetrics",
            "/api/v1/catalog/%2F",
            "/api/v1/catalog/%255c",
        ] {
            assert_eq!(context(path), Err(Refusal::Separator), "{path}");
        }
        for path in ["/api/v1/catalog/%00", "/api/v1/catalog/a%0d%0aSet-Cookie:x", "/api/v1/catalog/%7f"] {
            assert_eq!(context(path), Err(Refusal::ControlCharacter), "{path}");
        }
    }

    #[test]
    fn only_the_api_prefix_with_a_context_is_routed() {
        for path in ["/metrics", "/api/v1/", "/api/v1//products", "/api/v2/catalog/x", "/API/v1/catalog"] {
            assert_eq!(context(path), Err(Refusal::NotRouted), "{path}");
        }
    }
}
