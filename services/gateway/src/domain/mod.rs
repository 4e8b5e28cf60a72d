//! The gateway's rules, free of IO: which headers cross, where a browser may be sent back to.

pub mod forwarding;
