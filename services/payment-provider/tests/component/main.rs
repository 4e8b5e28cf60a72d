//! Component tests: the real payment-provider router on a real database, SQLite and PostgreSQL
//! alike. One binary for all of them, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod bad_input;
mod contract;
mod faults;
mod idempotency;
mod intents;
mod support;
