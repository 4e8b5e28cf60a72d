//! The gateway's rules, free of IO: which paths are forwarded, which headers cross, where a
//! browser may be sent back to.

pub mod forwarding;
pub mod path;
