//! The published language: every message that crosses a service boundary, as a Rust type grouped
//! by the bounded context that owns it. No logic lives here, only shapes, their versions and the
//! documents generated from them (JSON Schema per message, one AsyncAPI document for the system).
//!
//! Evolution rules, enforced by this crate's tests: within a major version a message may only gain
//! optional fields, so that every committed example keeps decoding; anything else is a new type
//! with the next major version (`...v2`), published alongside the old one until no one consumes it.

pub mod asyncapi;
pub mod catalog;
pub mod inventory;
mod message;
mod money;
pub mod ordering;
pub mod payments;
pub mod shipping;

pub use message::{Message, MessageInfo, MessageKind, address, schema_of};
pub use money::Money;

/// The committed AsyncAPI document, as `committed_asyncapi_document_matches_the_types` keeps it:
/// generated from these types, with each message's committed examples.
pub const ASYNCAPI_DOCUMENT: &str = include_str!("../../../docs/events/asyncapi.json");

/// Each context's messages (`flotilla new service` adds a context's list here).
const CONTEXTS: &[&[fn() -> MessageInfo]] =
    &[catalog::MESSAGES, inventory::MESSAGES, payments::MESSAGES, ordering::MESSAGES, shipping::MESSAGES];

/// Every message that crosses a service boundary, with who sends and who receives it.
pub fn registry() -> Vec<MessageInfo> {
    CONTEXTS.iter().flat_map(|messages| messages.iter()).map(|describe| describe()).collect()
}

/// The message with this CloudEvents type, if the system knows it.
pub fn find(message_type: &str) -> Option<MessageInfo> {
    registry().into_iter().find(|info| info.message_type == message_type)
}
