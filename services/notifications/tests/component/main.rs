//! Component tests: the real notifications service on a real database and bus, SQLite with the
//! embedded log and PostgreSQL with NATS JetStream alike, mailing to its own sink, to relays the
//! tests play, and to a stock SMTP server. One binary for all of them, to link once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod bad_input;
mod contract;
mod delivery;
mod milestones;
mod relays;
mod sink;
mod support;
