//! The identity rules, free of IO: credentials, PKCE, clients, sign-in throttling and the key
//! schedule.

pub mod clients;
pub mod credentials;
pub mod keys;
pub mod pkce;
pub mod throttle;
