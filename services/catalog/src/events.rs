//! The catalog's published language: what each change of a product tells the rest of the system.
//! Pure translation from the domain to the contract types; the API writes them to the outbox in
//! the transaction that makes the change.

use flotilla_contracts::catalog::{
    AttributeValue as Attribute, Money, ProductCreatedV1, ProductDeletedV1, ProductPriceChangedV1, ProductState,
    ProductUpdatedV1,
};
use flotilla_contracts::{MessageInfo, registry};

use crate::domain::money::Money as DomainMoney;
use crate::domain::product::{AttributeValue, Product};

/// The message types the catalog publishes, for `/events` and the AsyncAPI document.
pub fn published() -> Vec<MessageInfo> {
    registry().into_iter().filter(|info| info.is_sent_by(crate::SERVICE.name)).collect()
}

pub fn created(product: &Product) -> ProductCreatedV1 {
    ProductCreatedV1 { product: state(product) }
}

pub fn updated(product: &Product) -> ProductUpdatedV1 {
    ProductUpdatedV1 { product: state(product) }
}

/// Only when the change moved the price.
pub fn price_changed(before: &Product, after: &Product) -> Option<ProductPriceChangedV1> {
    (before.content.price != after.content.price).then(|| ProductPriceChangedV1 {
        product_id: after.id,
        version: after.version,
        previous_price: money(before.content.price),
        price: money(after.content.price),
    })
}

pub fn deleted(product: &Product) -> ProductDeletedV1 {
    ProductDeletedV1 { product_id: product.id, version: product.version, sku: product.content.sku.clone() }
}

fn state(product: &Product) -> ProductState {
    let c = &product.content;
    ProductState {
        product_id: product.id,
        version: product.version,
        sku: c.sku.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        price: money(c.price),
        category: c.category.clone(),
        image: c.image.clone(),
        attributes: c
            .attributes
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    AttributeValue::Flag(flag) => Attribute::Flag(*flag),
                    AttributeValue::Integer(number) => Attribute::Integer(*number),
                    AttributeValue::Text(text) => Attribute::Text(text.clone()),
                };
                (key.clone(), value)
            })
            .collect(),
    }
}

fn money(price: DomainMoney) -> Money {
    Money { amount_minor: price.amount_minor, currency: price.currency.code().to_owned() }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::product::{ProductInput, validate};

    fn product(amount_minor: i64) -> Product {
        let draft = validate(ProductInput {
            sku: "KIT-1".into(),
            name: "Skillet".into(),
            description: "Iron".into(),
            amount_minor,
            currency: "EUR".into(),
            category: "kitchen".into(),
            image: None,
            attributes: BTreeMap::from([("induction".into(), AttributeValue::Flag(true))]),
        })
        .unwrap();
        Product::new(uuid::Uuid::now_v7(), draft, time::OffsetDateTime::now_utc())
    }

    #[test]
    fn a_price_change_is_announced_only_when_the_price_moved() {
        let before = product(3490);
        let same_price = before.replaced(before.content.clone(), time::OffsetDateTime::now_utc());
        assert_eq!(price_changed(&before, &same_price), None);
        let cheaper = before.replaced(product(2990).content, time::OffsetDateTime::now_utc());
        let change = price_changed(&before, &cheaper).unwrap();
        assert_eq!((change.previous_price.amount_minor, change.price.amount_minor, change.version), (3490, 2990, 2));
    }

    #[test]
    fn events_carry_the_whole_state() {
        let p = product(3490);
        let created = created(&p);
        assert_eq!(created.product.product_id, p.id);
        assert_eq!(created.product.price, Money { amount_minor: 3490, currency: "EUR".into() });
        assert_eq!(created.product.attributes["induction"], Attribute::Flag(true));
        assert_eq!(published().len(), 4);
    }
}
