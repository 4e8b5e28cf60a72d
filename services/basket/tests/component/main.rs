//! Component tests: the real basket router on a real database and bus, SQLite with the embedded
//! log and PostgreSQL with NATS JetStream alike. One binary for all of them, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod bad_input;
mod baskets;
mod contract;
mod races;
mod read_model;
mod support;
