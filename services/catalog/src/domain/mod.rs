//! The catalog's rules, free of IO: what a valid product is, how prices are expressed, how text
//! is indexed for search, and how a page position is encoded.

pub mod cursor;
pub mod money;
pub mod product;
pub mod search;

/// A broken rule, located by a JSON pointer into the request (`/price/currency`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub message: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}
