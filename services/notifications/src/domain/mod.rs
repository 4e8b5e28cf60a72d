//! The notifications rules. No IO here: no database, no network, no clock.
//!
//! `notification` decides what a milestone says and to whom, `money` how an amount reads,
//! `retry` when a failed delivery is tried again, `smtp` the mail sink's side of the protocol and
//! `mail` what the sink makes of a message it received.

pub mod mail;
pub mod money;
pub mod notification;
pub mod retry;
pub mod smtp;
