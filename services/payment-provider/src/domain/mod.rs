//! The simulator's rules: what a card number decides, how an intent moves between states, what
//! may be refunded, and which fault knobs are acceptable. No IO here: no database, no HTTP, no
//! clock, no randomness; ids, times and dice rolls are passed in.

pub mod card;
pub mod faults;
pub mod intent;
pub mod request;

/// A broken rule, at the JSON pointer of the field that breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: &'static str,
    pub message: String,
}

impl Violation {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}
