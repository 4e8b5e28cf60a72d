//! Component tests: the real identity service on a real database, SQLite and PostgreSQL alike,
//! driven over HTTP the way a browser and OAuth clients drive it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod clients;
mod contract;
mod flow;
mod keys;
mod matrix;
mod registration;
mod sign_in;
mod standard_client;
mod support;
