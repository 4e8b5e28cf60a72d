//! What each request does. Choices depend only on the request's index, so a run is repeatable.

use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;

use super::ScenarioKind;
use super::checkout::Checkout;

pub enum Outcome {
    Ok,
    Error(&'static str),
}

pub enum Scenario {
    Get { url: String },
    CatalogBrowse { base: String, ids: Vec<String>, categories: Vec<String>, words: Vec<String> },
    Checkout(Box<Checkout>),
}

impl Scenario {
    /// Learns what the scenario needs from the target (ids, categories and words to search for).
    pub async fn prepare(
        kind: ScenarioKind,
        args: &super::LoadArgs,
        client: &reqwest::Client,
    ) -> anyhow::Result<Arc<Self>> {
        let base = args.target.trim_end_matches('/').to_owned();
        let scenario = match kind {
            ScenarioKind::Get => Self::Get { url: format!("{base}{}", args.path) },
            ScenarioKind::Checkout => {
                Self::Checkout(Box::new(Checkout::prepare(client, &base, &args.identity, args.customers).await?))
            }
            ScenarioKind::CatalogBrowse => {
                let url = format!("{base}/api/v1/catalog/products?limit=100");
                let page: Value = client
                    .get(&url)
                    .send()
                    .await
                    .with_context(|| format!("cannot reach the catalog at {url}"))?
                    .error_for_status()?
                    .json()
                    .await?;
                let items = page["items"].as_array().cloned().unwrap_or_default();
                if items.is_empty() {
                    bail!("the catalog at {base} has no products; start it in dev, which loads the demo catalogue");
                }
                let text = |item: &Value, key: &str| item[key].as_str().unwrap_or_default().to_owned();
                let ids = items.iter().map(|i| text(i, "id")).collect();
                let mut categories: Vec<String> = items.iter().map(|i| text(i, "category")).collect();
                categories.sort();
                categories.dedup();
                let mut words: Vec<String> = items
                    .iter()
                    .flat_map(|i| text(i, "name").split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
                    .filter(|w| w.len() >= 4 && w.chars().all(char::is_alphabetic))
                    .collect();
                words.sort();
                words.dedup();
                Self::CatalogBrowse { base, ids, categories, words }
            }
        };
        Ok(Arc::new(scenario))
    }

    pub async fn request(&self, client: &reqwest::Client, index: u64) -> Outcome {
        let url = match self {
            Self::Checkout(checkout) => return checkout.request(client, index, mix(index)).await,
            Self::Get { url } => url.clone(),
            Self::CatalogBrowse { base, ids, categories, words } => {
                let pick = mix(index);
                let choose = |items: &[String]| items[(pick >> 8) as usize % items.len()].clone();
                match pick % 10 {
                    0..=3 => format!("{base}/api/v1/catalog/products?limit=20&category={}", choose(categories)),
                    4..=5 if !words.is_empty() => {
                        format!("{base}/api/v1/catalog/products?limit=20&q={}", choose(words))
                    }
                    _ => format!("{base}/api/v1/catalog/products/{}", choose(ids)),
                }
            }
        };
        match client.get(url).send().await {
            Ok(response) if response.status().is_success() => match response.bytes().await {
                Ok(_) => Outcome::Ok,
                Err(_) => Outcome::Error("body"),
            },
            Ok(response) if response.status().is_server_error() => Outcome::Error("http-5xx"),
            Ok(_) => Outcome::Error("http-4xx"),
            Err(error) if error.is_timeout() => Outcome::Error("timeout"),
            Err(error) if error.is_connect() => Outcome::Error("connect"),
            Err(_) => Outcome::Error("transport"),
        }
    }
}

// SplitMix64: a cheap, well-distributed hash of the request index.
fn mix(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_mix_spreads_over_the_request_kinds() {
        let mut kinds = [0u32; 10];
        for i in 0..10_000 {
            kinds[(super::mix(i) % 10) as usize] += 1;
        }
        assert!(kinds.iter().all(|&n| (800..1200).contains(&n)), "{kinds:?}");
    }
}
