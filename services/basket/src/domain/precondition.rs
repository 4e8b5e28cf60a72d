//! Versions as entity tags: a basket's `ETag` is its version in quotes, and `If-Match` admits a
//! change only to the version the client last read.

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// What a change requires of the version it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`: the change applies to whatever the basket holds now.
    None,
    /// The value of an `If-Match` header.
    IfMatch(String),
}

impl Precondition {
    /// RFC 9110 strong comparison: a weak tag never matches, `*` always does (a basket always
    /// exists, empty until something is added).
    pub fn admits(&self, version: i64) -> bool {
        match self {
            Self::None => true,
            Self::IfMatch(header) => {
                let current = etag(version);
                header.split(',').map(str::trim).any(|tag| tag == "*" || tag == current)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_admits_only_the_current_version() {
        let admits = |header: &str| Precondition::IfMatch(header.into()).admits(3);
        assert!(admits("\"3\""));
        assert!(admits("\"1\", \"3\""));
        assert!(admits("*"));
        assert!(!admits("W/\"3\""), "weak tags never match");
        assert!(!admits("\"2\""));
        assert!(!admits("3"), "unquoted is not a tag");
        assert!(Precondition::None.admits(3));
        assert_eq!(etag(0), "\"0\"");
    }
}
