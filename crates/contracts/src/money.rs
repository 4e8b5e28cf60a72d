//! The shared kernel every context that prices things uses in its messages.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An amount in the currency's minor unit (cents for EUR), so that no float ever holds money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Money {
    #[schemars(range(min = 0))]
    pub amount_minor: i64,
    /// ISO 4217 code, upper case.
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub currency: String,
}
