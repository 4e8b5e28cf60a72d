//! Component tests: the real payments service on a real database (SQLite with the embedded log,
//! PostgreSQL with NATS JetStream), talking to the real card processor simulator over HTTP.
//! One binary for all of them, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod contract;
mod failures;
mod payments;
mod support;
