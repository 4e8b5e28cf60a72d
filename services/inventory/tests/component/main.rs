//! Component tests: the real inventory service on a real database, SQLite with the embedded log
//! and PostgreSQL with NATS JetStream alike. One binary for all of them, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod contract;
mod reservations;
mod stock;
mod support;
