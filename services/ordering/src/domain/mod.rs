//! The ordering rules. No IO here: no database, no HTTP, no clock.

pub mod checkout;
pub mod saga;
