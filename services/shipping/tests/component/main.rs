//! Component tests: the real shipping service on a real database, SQLite with the embedded log
//! and PostgreSQL with NATS JetStream alike, with the test playing ordering on the bus. One
//! binary for all of them, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod bad_input;
mod cancellations;
mod contract;
mod shipments;
mod support;
