//! The basket service's published language. It publishes nothing yet; the registry stays the one
//! place that says what it sends, so `/events` and the AsyncAPI document follow it.

use flotilla_contracts::{MessageInfo, registry};

/// What this service sends, for `/events` and the AsyncAPI document.
pub fn published() -> Vec<MessageInfo> {
    registry().into_iter().filter(|info| info.is_sent_by(crate::SERVICE.name)).collect()
}
