//! Component tests: the real ordering service on a real database (SQLite with the embedded log,
//! PostgreSQL with NATS JetStream). The test plays inventory, payments and shipping on the bus,
//! and the basket over HTTP, so that every branch of the saga can be driven and observed; the
//! whole system runs them for real in the binary's system tests. One binary, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod checkout;
mod compensation;
mod contract;
mod metrics;
mod saga;
mod support;
