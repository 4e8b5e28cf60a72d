//! The `checkout` scenario: customers who signed in put a product in their basket and check out
//! through the gateway; after each step, every accepted order is read back and its time from
//! accepted to confirmed taken from its timeline (the saga's own timestamps), so that what is
//! measured is the whole saga, not only the acceptance.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use flotilla_identity::headless::{self, SignIn};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::scenario::Outcome;

/// A signed-in customer.
pub struct Customer {
    token: String,
    subject: String,
}

pub struct Checkout {
    gateway: String,
    customers: Vec<Customer>,
    products: Vec<String>,
    run: String,
    /// Orders accepted in the current step: (customer, order id).
    accepted: Mutex<Vec<(usize, String)>>,
}

/// What became of a step's accepted orders.
pub struct Confirmations {
    pub accepted: usize,
    pub confirmed: usize,
    pub rejected: usize,
    /// Neither confirmed nor rejected by the end of the wait.
    pub unfinished: usize,
    /// Accepted to confirmed, in microseconds.
    pub latency: Histogram<u64>,
}

impl Confirmations {
    pub fn percentile_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Every accepted order confirmed, and quickly enough.
    pub fn hold(&self, max_p99: Duration) -> bool {
        self.confirmed == self.accepted && self.latency.value_at_quantile(0.99) <= max_p99.as_micros() as u64
    }
}

const PASSWORD: &str = "load test pass phrase 3b7c";

impl Checkout {
    /// Registers and signs in `count` customers (at identity, `identity`), and learns the
    /// catalogue's products.
    pub async fn prepare(
        client: &reqwest::Client,
        gateway: &str,
        identity: &str,
        count: usize,
    ) -> anyhow::Result<Self> {
        let gateway = gateway.trim_end_matches('/').to_owned();
        let page: Value = client
            .get(format!("{gateway}/api/v1/catalog/products?limit=100"))
            .send()
            .await
            .context("cannot reach the catalog through the gateway")?
            .error_for_status()?
            .json()
            .await?;
        let products: Vec<String> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["id"].as_str().map(str::to_owned))
            .collect();
        if products.is_empty() {
            bail!("the catalog has no products; run in dev, which loads the demo catalogue");
        }
        let run = uuid::Uuid::now_v7().simple().to_string();
        let mut customers = Vec::with_capacity(count);
        for i in 0..count {
            let email = format!("load-{run}-{i}@example.com");
            let registered = client
                .post(format!("{gateway}/api/v1/identity/users"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await?;
            if !registered.status().is_success() {
                bail!(
                    "registering a customer: {} {}",
                    registered.status(),
                    registered.text().await.unwrap_or_default()
                );
            }
            customers.push(sign_in(client, &gateway, identity.trim_end_matches('/'), &email).await?);
        }
        Ok(Self { gateway, customers, products, run, accepted: Mutex::new(Vec::new()) })
    }

    /// One customer's basket and checkout; the customer and product follow from `index`.
    pub async fn request(&self, client: &reqwest::Client, index: u64, pick: u64) -> Outcome {
        let who = (index % self.customers.len() as u64) as usize;
        let customer = &self.customers[who];
        let product = &self.products[(pick >> 8) as usize % self.products.len()];
        let item = format!("{}/api/v1/basket/baskets/{}/items", self.gateway, customer.subject);
        let added = client
            .post(item)
            .bearer_auth(&customer.token)
            .json(&json!({"product_id": product, "quantity": 1}))
            .send()
            .await;
        if let Err(outcome) = expect(added, reqwest::StatusCode::OK).await {
            return outcome;
        }
        let body = json!({
            "ship_to": {"name": "Load Test", "line1": "1 Bench Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
            "contact_email": "load@example.com",
            "payment_method": "4242424242424242",
        });
        let checkout = client
            .post(format!("{}/api/v1/ordering/orders", self.gateway))
            .bearer_auth(&customer.token)
            .header("idempotency-key", format!("{}-{index}", self.run))
            .json(&body)
            .send()
            .await;
        match checkout {
            Ok(response) if response.status() == reqwest::StatusCode::ACCEPTED => {
                match response.json::<Value>().await {
                    Ok(order) => {
                        if let (Some(id), Ok(mut accepted)) = (order["order_id"].as_str(), self.accepted.lock()) {
                            accepted.push((who, id.to_owned()));
                        }
                        Outcome::Ok
                    }
                    Err(_) => Outcome::Error("body"),
                }
            }
            other => expect(other, reqwest::StatusCode::ACCEPTED).await.err().unwrap_or(Outcome::Error("http-4xx")),
        }
    }

    /// Waits (up to `wait`) for the step's accepted orders to end, and measures them.
    pub async fn confirmations(&self, client: &reqwest::Client, wait: Duration) -> Confirmations {
        let orders = self.accepted.lock().map(|mut a| std::mem::take(&mut *a)).unwrap_or_default();
        let deadline = Instant::now() + wait;
        let mut result = Confirmations {
            accepted: orders.len(),
            confirmed: 0,
            rejected: 0,
            unfinished: 0,
            latency: super::engine::histogram(),
        };
        for (who, id) in orders {
            let url = format!("{}/api/v1/ordering/orders/{id}", self.gateway);
            loop {
                let order: Option<Value> = match client.get(&url).bearer_auth(&self.customers[who].token).send().await {
                    Ok(response) => response.json().await.ok(),
                    Err(_) => None,
                };
                let timeline = order.as_ref().and_then(|o| o["timeline"].as_array().cloned()).unwrap_or_default();
                let at = |status: &str| {
                    timeline.iter().find(|e| e["status"] == status).and_then(|e| e["at"].as_str()).and_then(parse_time)
                };
                if let (Some(accepted), Some(confirmed)) = (at("pending"), at("confirmed")) {
                    result.confirmed += 1;
                    let took = (confirmed - accepted).whole_microseconds().max(1);
                    let _ = result.latency.record(u64::try_from(took).unwrap_or(u64::MAX));
                    break;
                }
                if at("rejected").is_some() || at("cancelled").is_some() {
                    result.rejected += 1;
                    break;
                }
                if Instant::now() >= deadline {
                    result.unfinished += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        result
    }
}

fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

async fn expect(
    response: Result<reqwest::Response, reqwest::Error>,
    status: reqwest::StatusCode,
) -> Result<(), Outcome> {
    match response {
        Ok(response) if response.status() == status => {
            let _ = response.bytes().await;
            Ok(())
        }
        Ok(response) if response.status().is_server_error() => Err(Outcome::Error("http-5xx")),
        Ok(_) => Err(Outcome::Error("http-4xx")),
        Err(error) if error.is_timeout() => Err(Outcome::Error("timeout")),
        Err(error) if error.is_connect() => Err(Outcome::Error("connect")),
        Err(_) => Err(Outcome::Error("transport")),
    }
}

/// Signs the customer in as an app would (the code flow with PKCE, with their password).
async fn sign_in(client: &reqwest::Client, gateway: &str, identity: &str, email: &str) -> anyhow::Result<Customer> {
    let redirect = format!("{gateway}/auth/callback");
    let request =
        SignIn { identity, client_id: "gateway", redirect_uri: &redirect, scope: "openid", email, password: PASSWORD };
    let tokens = headless::sign_in(client, request)
        .await
        .map_err(|why| anyhow::anyhow!("{why} (raise services.identity.sign_in_per_minute for load runs)"))?;
    let token = tokens["access_token"].as_str().context("no access token")?.to_owned();
    let subject = headless::subject_of(&token).context("no subject in the access token")?;
    Ok(Customer { token, subject })
}
