//! Component tests: the real catalog router on a real database, SQLite and PostgreSQL alike.
//! One binary for all of them, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod bad_input;
mod contract;
mod events;
mod operations;
mod products;
mod races;
mod support;
mod traces;
