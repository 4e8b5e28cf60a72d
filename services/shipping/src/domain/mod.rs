//! The shipping rules. No IO here: no database, no HTTP, no clock.

pub mod shipment;
pub mod tracking;
