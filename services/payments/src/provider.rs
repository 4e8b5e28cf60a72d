//! The card processor's HTTP API, as payments uses it: every call with the API key, an
//! idempotency key and a timeout, and every answer sorted by what it tells us about whether the
//! processor acted. That sorting is what keeps money right: only an answer, or a "not done"
//! the processor vouches for, settles a call; anything else is asked about before acting again.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

/// A payment intent as the processor reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Intent {
    pub id: String,
    /// requires_capture, succeeded, canceled, ...
    pub status: String,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub last_error: Option<LastError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastError {
    pub code: String,
}

#[derive(Debug, Deserialize)]
struct IntentList {
    data: Vec<Intent>,
}

/// What one call came to.
#[derive(Debug)]
pub enum Reply<T> {
    /// The processor did it.
    Done(T),
    /// The processor answered no (a 4xx): it did not act and will not on the same request.
    /// `code` is its reason, `intent` the intent it reports with a decline.
    Refused { status: StatusCode, code: Option<String>, intent: Option<Intent> },
    /// Known not to have acted: never reached, or it said it did nothing (503). Worth retrying.
    NotDone(String),
    /// No answer that says what happened (a timeout, a 500, an unreadable body): it may have
    /// acted. Ask before acting again.
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct Provider {
    http: reqwest::Client,
    base: String,
    api_key: SecretString,
}

impl Provider {
    pub fn new(base: &str, api_key: SecretString, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = flotilla_chassis::outbound::client(timeout)?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), api_key })
    }

    /// Authorizes `amount` on the card for the merchant's `reference` (the order id).
    pub async fn authorize(
        &self,
        key: &str,
        amount: i64,
        currency: &str,
        card: &str,
        reference: &str,
    ) -> Reply<Intent> {
        let body = json!({
            "amount": amount, "currency": currency, "card_number": card,
            "reference": reference, "capture_method": "manual",
        });
        self.call(Method::POST, "/v1/payment_intents", Some(key), Some(body)).await
    }

    pub async fn capture(&self, key: &str, intent: &str) -> Reply<Intent> {
        self.call(Method::POST, &format!("/v1/payment_intents/{intent}/capture"), Some(key), Some(json!({}))).await
    }

    pub async fn void(&self, key: &str, intent: &str) -> Reply<Intent> {
        self.call(Method::POST, &format!("/v1/payment_intents/{intent}/cancel"), Some(key), Some(json!({}))).await
    }

    /// Refunds `amount` of the intent's captured amount.
    pub async fn refund(&self, key: &str, intent: &str, amount: i64) -> Reply<Value> {
        let body = json!({ "payment_intent": intent, "amount": amount });
        self.call(Method::POST, "/v1/refunds", Some(key), Some(body)).await
    }

    pub async fn retrieve(&self, intent: &str) -> Reply<Intent> {
        self.call(Method::GET, &format!("/v1/payment_intents/{intent}"), None, None).await
    }

    /// The intents created for the merchant's `reference`: how an unanswered authorization is
    /// resolved, since its intent id was in the answer that never came.
    pub async fn find(&self, reference: &str) -> Reply<Vec<Intent>> {
        match self
            .call::<IntentList>(Method::GET, &format!("/v1/payment_intents?reference={reference}"), None, None)
            .await
        {
            Reply::Done(list) => Reply::Done(list.data),
            Reply::Refused { status, code, intent } => Reply::Refused { status, code, intent },
            Reply::NotDone(why) => Reply::NotDone(why),
            Reply::Unknown(why) => Reply::Unknown(why),
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply<T> {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).bearer_auth(self.api_key.expose_secret());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = match flotilla_chassis::outbound::send(request).await {
            Ok(response) => response,
            // Refused before a byte of the request was sent: the processor never saw it.
            Err(error) if error.is_connect() => return Reply::NotDone(format!("cannot reach the provider: {error}")),
            Err(error) => return Reply::Unknown(format!("no answer from the provider: {error}")),
        };
        let status = response.status();
        if status.is_success() {
            return match response.json::<T>().await {
                Ok(value) => Reply::Done(value),
                Err(error) => Reply::Unknown(format!("unreadable answer from the provider: {error}")),
            };
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return Reply::NotDone("the provider is unavailable (503)".into());
        }
        if status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT && status != StatusCode::TOO_MANY_REQUESTS
        {
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            let code = problem["code"].as_str().map(str::to_owned);
            let intent = serde_json::from_value(problem["payment_intent"].clone()).ok();
            return Reply::Refused { status, code, intent };
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Reply::NotDone("the provider is rate limiting (429)".into());
        }
        Reply::Unknown(format!("the provider answered {status}"))
    }
}
