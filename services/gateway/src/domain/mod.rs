//! The gateway's rules, free of IO: the circuit breaker, which headers cross, where a browser
//! may be sent back to.

pub mod breaker;
pub mod forwarding;
