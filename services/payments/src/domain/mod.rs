//! The payments rules. No IO here: no database, no HTTP, no clock.

pub mod card;
pub mod payment;
