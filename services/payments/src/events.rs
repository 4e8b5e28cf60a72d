//! What the payments service sends, for `/events` and the AsyncAPI document: only replies.

use flotilla_contracts::{MessageInfo, registry};

pub fn published() -> Vec<MessageInfo> {
    registry().into_iter().filter(|info| info.is_sent_by(crate::SERVICE.name)).collect()
}
