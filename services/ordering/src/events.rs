//! What the ordering service sends, for `/events` and the AsyncAPI document.

use flotilla_contracts::{MessageInfo, registry};

pub fn published() -> Vec<MessageInfo> {
    registry().into_iter().filter(|info| info.is_sent_by(crate::SERVICE.name)).collect()
}
