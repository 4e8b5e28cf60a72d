//! What a product is and which products are valid.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Violation;
use super::money::{Currency, MAX_AMOUNT_MINOR, Money};

const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 5000;
const MAX_CATEGORY_CHARS: usize = 50;
const MAX_IMAGE_CHARS: usize = 500;
const MAX_ATTRIBUTES: usize = 32;
const MAX_ATTRIBUTE_KEY_CHARS: usize = 40;
const MAX_ATTRIBUTE_TEXT_CHARS: usize = 200;

/// A stock-independent property of a product: text, a whole number or a yes/no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Flag(bool),
    Integer(i64),
    Text(String),
}

/// A product as a client describes it, before any rule is checked.
#[derive(Debug, Clone)]
pub struct ProductInput {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub amount_minor: i64,
    pub currency: String,
    pub category: String,
    pub image: Option<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// A product's content once every rule holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category: String,
    pub image: Option<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// A stored product. `version` grows by one on every change and backs the ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: Uuid,
    pub content: ProductDraft,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Product {
    pub fn new(id: Uuid, content: ProductDraft, now: OffsetDateTime) -> Self {
        Self { id, content, version: 1, created_at: now, updated_at: now }
    }

    /// This product with its content replaced: the next version.
    pub fn replaced(&self, content: ProductDraft, now: OffsetDateTime) -> Self {
        Self { id: self.id, content, version: self.version + 1, created_at: self.created_at, updated_at: now }
    }

    /// The strong entity tag of this version, quoted as HTTP wants it.
    pub fn etag(&self) -> String {
        etag_for(self.version)
    }
}

pub fn etag_for(version: i64) -> String {
    format!("\"{version}\"")
}

/// What a change requires of the version it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Unconditional.
    None,
    /// The value of an `If-Match` header.
    IfMatch(String),
}

impl Precondition {
    pub fn admits(&self, version: i64) -> bool {
        match self {
            Self::None => true,
            Self::IfMatch(header) => if_match_admits(header, version),
        }
    }
}

/// Whether an `If-Match` header value admits this version (RFC 9110 strong comparison).
fn if_match_admits(header: &str, version: i64) -> bool {
    let current = etag_for(version);
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag == current)
}

/// Checks every rule and reports every broken one, not just the first.
pub fn validate(input: ProductInput) -> Result<ProductDraft, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut check = |ok: bool, field: &str, message: &str| {
        if !ok {
            violations.push(Violation::new(field, message));
        }
    };

    let sku = input.sku.trim().to_owned();
    check(is_sku(&sku), "/sku", "must be 3 to 32 characters of A-Z, 0-9 and -, starting with a letter or digit");

    let name = input.name.trim().to_owned();
    check(!name.is_empty(), "/name", "must not be empty");
    check(name.chars().count() <= MAX_NAME_CHARS, "/name", "must be at most 200 characters");
    check(!name.chars().any(char::is_control), "/name", "must not contain control characters");

    let description = input.description.trim().to_owned();
    check(description.chars().count() <= MAX_DESCRIPTION_CHARS, "/description", "must be at most 5000 characters");
    check(
        !description.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "/description",
        "must not contain control characters other than newlines and tabs",
    );

    check(input.amount_minor >= 0, "/price/amount_minor", "must not be negative");
    check(input.amount_minor <= MAX_AMOUNT_MINOR, "/price/amount_minor", "must be at most 10000000000");
    let currency = Currency::parse(&input.currency);
    check(currency.is_some(), "/price/currency", "must be an active ISO 4217 code in upper case, such as EUR");

    let category = input.category.trim().to_owned();
    check(
        is_slug(&category) && category.len() <= MAX_CATEGORY_CHARS,
        "/category",
        "must be 1 to 50 characters of a-z and 0-9, words joined by single hyphens",
    );

    let image = input.image.map(|i| i.trim().to_owned()).filter(|i| !i.is_empty());
    if let Some(image) = &image {
        check(
            is_image_reference(image),
            "/image",
            "must be an absolute path (/images/...) or an https URL, at most 500 characters, without spaces",
        );
    }

    check(input.attributes.len() <= MAX_ATTRIBUTES, "/attributes", "must have at most 32 entries");
    for (key, value) in &input.attributes {
        let field = format!("/attributes/{}", key.replace('~', "~0").replace('/', "~1"));
        check(
            is_attribute_key(key),
            &field,
            "keys must be 1 to 40 characters of a-z, 0-9 and _, starting with a letter",
        );
        if let AttributeValue::Text(text) = value {
            check(
                text.chars().count() <= MAX_ATTRIBUTE_TEXT_CHARS,
                &field,
                "text values must be at most 200 characters",
            );
        }
    }

    match (violations.is_empty(), currency) {
        (true, Some(currency)) => Ok(ProductDraft {
            sku,
            name,
            description,
            price: Money { amount_minor: input.amount_minor, currency },
            category,
            image,
            attributes: input.attributes,
        }),
        _ => Err(violations),
    }
}

fn is_sku(s: &str) -> bool {
    (3..=32).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().next().is_some_and(|b| b != b'-')
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn is_image_reference(s: &str) -> bool {
    s.chars().count() <= MAX_IMAGE_CHARS
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && ((s.starts_with('/') && !s.starts_with("//")) || (s.starts_with("https://") && s.len() > "https://".len()))
}

fn is_attribute_key(s: &str) -> bool {
    (1..=MAX_ATTRIBUTE_KEY_CHARS).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            sku: "KIT-0001".into(),
            name: "Cast-Iron Skillet".into(),
            description: "Pre-seasoned.".into(),
            amount_minor: 3499,
            currency: "EUR".into(),
            category: "kitchen".into(),
            image: Some("/images/products/kit-0001.jpg".into()),
            attributes: BTreeMap::from([("weight_g".into(), AttributeValue::Integer(2300))]),
        }
    }

    fn fields(result: Result<ProductDraft, Vec<Violation>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_valid_product_passes_and_is_trimmed() {
        let draft = validate(ProductInput { name: "  Skillet ".into(), ..input() }).unwrap();
        assert_eq!(draft.name, "Skillet");
        assert_eq!(draft.price.currency.code(), "EUR");
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let bad = ProductInput {
            sku: "bad sku".into(),
            name: " ".into(),
            amount_minor: -1,
            currency: "eur".into(),
            category: "Kitchen Stuff".into(),
            image: Some("javascript:alert(1)".into()),
            ..input()
        };
        assert_eq!(
            fields(validate(bad)),
            ["/sku", "/name", "/price/amount_minor", "/price/currency", "/category", "/image"]
        );
    }

    #[test]
    fn prices_are_bounded() {
        assert!(validate(ProductInput { amount_minor: 0, ..input() }).is_ok());
        assert!(validate(ProductInput { amount_minor: MAX_AMOUNT_MINOR, ..input() }).is_ok());
        assert_eq!(
            fields(validate(ProductInput { amount_minor: MAX_AMOUNT_MINOR + 1, ..input() })),
            ["/price/amount_minor"]
        );
        assert_eq!(fields(validate(ProductInput { amount_minor: i64::MIN, ..input() })), ["/price/amount_minor"]);
    }

    #[test]
    fn attribute_keys_and_texts_are_checked() {
        let attributes = BTreeMap::from([
            ("Bad Key".into(), AttributeValue::Flag(true)),
            ("notes".into(), AttributeValue::Text("x".repeat(201))),
        ]);
        assert_eq!(
            fields(validate(ProductInput { attributes, ..input() })),
            ["/attributes/Bad Key", "/attributes/notes"]
        );
    }

    #[test]
    fn image_references_must_be_local_paths_or_https() {
        for ok in ["/images/a.jpg", "https://cdn.example/a.jpg"] {
            assert!(validate(ProductInput { image: Some(ok.into()), ..input() }).is_ok(), "{ok}");
        }
        for bad in ["http://x/a.jpg", "//evil/a.jpg", "/a b.jpg", "https://", "images/a.jpg"] {
            assert!(validate(ProductInput { image: Some(bad.into()), ..input() }).is_err(), "{bad}");
        }
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        let admits = |header: &str| Precondition::IfMatch(header.into()).admits(3);
        assert!(admits("\"3\""));
        assert!(admits("\"1\", \"3\""));
        assert!(admits("*"));
        assert!(!admits("W/\"3\""));
        assert!(!admits("\"2\""));
        assert!(Precondition::None.admits(3));
    }

    #[test]
    fn replacing_bumps_the_version_and_keeps_identity() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let product = Product::new(Uuid::now_v7(), validate(input()).unwrap(), now);
        let later = now + time::Duration::seconds(5);
        let next = product.replaced(validate(ProductInput { name: "New".into(), ..input() }).unwrap(), later);
        assert_eq!((next.id, next.version, next.created_at, next.updated_at), (product.id, 2, now, later));
        assert_eq!(next.etag(), "\"2\"");
    }

    #[test]
    fn every_limit_itself_is_allowed_and_one_beyond_it_is_not() {
        let ok = |input: ProductInput| validate(input).is_ok();
        let x = |n: usize| "x".repeat(n);
        assert!(ok(ProductInput { name: x(200), ..input() }));
        assert_eq!(fields(validate(ProductInput { name: x(201), ..input() })), ["/name"]);
        assert_eq!(fields(validate(ProductInput { name: "a\u{7}b".into(), ..input() })), ["/name"]);

        assert!(ok(ProductInput { description: x(5000), ..input() }));
        assert_eq!(fields(validate(ProductInput { description: x(5001), ..input() })), ["/description"]);
        assert!(ok(ProductInput { description: "line\nnext\tcolumn".into(), ..input() }));
        for bad in ["a\u{7}b", "a\rb"] {
            assert_eq!(fields(validate(ProductInput { description: bad.into(), ..input() })), ["/description"]);
        }

        assert!(ok(ProductInput { category: "a".repeat(50), ..input() }));
        assert!(ok(ProductInput { category: "cast-iron-2".into(), ..input() }));
        for bad in ["a".repeat(51), String::new(), "-a".into(), "a-".into(), "a--b".into(), "A".into()] {
            assert_eq!(fields(validate(ProductInput { category: bad.clone(), ..input() })), ["/category"], "{bad}");
        }

        for good in ["ABC".to_owned(), "A".repeat(32), "0-A".into()] {
            assert!(ok(ProductInput { sku: good.clone(), ..input() }), "{good}");
        }
        for bad in ["AB".to_owned(), "A".repeat(33), "-AB".into(), "AB1c".into()] {
            assert_eq!(fields(validate(ProductInput { sku: bad.clone(), ..input() })), ["/sku"], "{bad}");
        }

        assert!(ok(ProductInput { image: Some(format!("/{}", x(499))), ..input() }));
        assert!(ok(ProductInput { image: Some("https://x".into()), ..input() }));
        assert!(ok(ProductInput { image: Some("  ".into()), ..input() }), "a blank image is no image");
        for bad in [format!("/{}", x(500)), "/a\u{7}".into()] {
            assert_eq!(fields(validate(ProductInput { image: Some(bad), ..input() })), ["/image"]);
        }

        let attributes = |n: usize| (0..n).map(|i| (format!("k{i}"), AttributeValue::Flag(true))).collect();
        assert!(ok(ProductInput { attributes: attributes(32), ..input() }));
        assert_eq!(fields(validate(ProductInput { attributes: attributes(33), ..input() })), ["/attributes"]);
        let one =
            |key: String, value: AttributeValue| ProductInput { attributes: BTreeMap::from([(key, value)]), ..input() };
        assert!(ok(one("a".repeat(40), AttributeValue::Text(x(200)))));
        assert!(ok(one("a_1".into(), AttributeValue::Integer(1))));
        for bad in ["a".repeat(41), String::new(), "1a".into(), "a-b".into()] {
            assert!(!ok(one(bad.clone(), AttributeValue::Flag(false))), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn validation_never_panics(
            sku in ".{0,40}", name in ".{0,40}", amount in any::<i64>(), currency in ".{0,4}",
            category in ".{0,20}", image in proptest::option::of(".{0,30}"),
        ) {
            let _ = validate(ProductInput { sku, name, description: String::new(), amount_minor: amount, currency, category, image, attributes: BTreeMap::new() });
        }

        #[test]
        fn an_accepted_price_is_never_negative_or_oversized(amount in any::<i64>()) {
            if let Ok(draft) = validate(ProductInput { amount_minor: amount, ..input() }) {
                prop_assert!((0..=MAX_AMOUNT_MINOR).contains(&draft.price.amount_minor));
            }
        }
    }
}
