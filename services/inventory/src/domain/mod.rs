//! The inventory rules. No IO here: no database, no HTTP, no clock.

pub mod reservation;
pub mod stock;
