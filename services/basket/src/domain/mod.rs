//! The basket rules. No IO here: no database, no HTTP, no clock.

pub mod basket;
pub mod money;
pub mod precondition;
