//! The identity rules, free of IO: credentials, PKCE, clients, lockout and the key schedule.

pub mod clients;
pub mod credentials;
pub mod keys;
pub mod lockout;
pub mod pkce;
