//! Component tests: the real gateway on a real database, in front of a real HTTP upstream whose
//! failures the tests control, accepting tokens from the test issuer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod edge;
mod paths;
mod resilience;
mod routing;
mod support;
