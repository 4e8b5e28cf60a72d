//! Reading the basket a customer checks out: a synchronous call to the basket service with the
//! ordering service account's token (scope `basket.read`); the basket refuses it without one.

use std::time::Duration;

use flotilla_chassis::auth::ServiceTokens;
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

/// The scope that lets a service read any customer's basket.
pub const SCOPE: &str = "basket.read";

#[derive(Debug, Clone, Deserialize)]
pub struct Basket {
    pub version: i64,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Price,
    pub available: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BasketError {
    #[error("no token for the basket service: {0}")]
    Token(String),
    #[error("the basket service could not be reached: {0}")]
    Unreachable(String),
    #[error("the basket service answered {0}")]
    Status(reqwest::StatusCode),
}

pub struct BasketClient {
    http: reqwest::Client,
    url: String,
    tokens: ServiceTokens,
}

impl BasketClient {
    pub fn new(url: &str, tokens: ServiceTokens, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = flotilla_chassis::outbound::client(timeout)?;
        Ok(Self { http, url: url.trim_end_matches('/').to_owned(), tokens })
    }

    /// The customer's basket as it stands.
    pub async fn basket(&self, customer_id: &str) -> Result<Basket, BasketError> {
        let token = self.tokens.token().await.map_err(|e| BasketError::Token(e.to_string()))?;
        // The subject is a path segment: encode it, whatever it holds.
        let customer: String = url_escape(customer_id);
        let request =
            self.http.get(format!("{}/api/v1/basket/baskets/{customer}", self.url)).bearer_auth(token.expose_secret());
        let response =
            flotilla_chassis::outbound::send(request).await.map_err(|e| BasketError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(BasketError::Status(response.status()));
        }
        response.json().await.map_err(|e| BasketError::Unreachable(format!("unreadable basket: {e}")))
    }
}

fn url_escape(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            // Dots too: a subject of `..` must not become a dot segment.
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(super::url_escape("0190-ab_c~"), "0190-ab_c~");
        assert_eq!(super::url_escape("a/../b c"), "a%2F%2E%2E%2Fb%20c");
        assert_eq!(super::url_escape(".."), "%2E%2E");
    }
}
