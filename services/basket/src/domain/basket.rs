//! What a basket may hold and how it is priced: a bounded quantity per line, a bounded number of
//! lines, one currency per basket, and each line's price now against its price when added.

use uuid::Uuid;

use super::money::{self, Money};

/// How much a basket may hold (`services.basket.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most of one product a line may hold.
    pub max_quantity: i64,
    /// The most lines (distinct products) a basket may hold.
    pub max_lines: usize,
}

impl Limits {
    /// Ceilings on the settings themselves: at the largest price, a basket at both ceilings totals
    /// about 10^17 minor units, well inside an i64.
    pub const MAX_QUANTITY: i64 = 9_999;
    pub const MAX_LINES: usize = 1_000;

    pub fn new(max_quantity: i64, max_lines: usize) -> Result<Self, String> {
        if !(1..=Self::MAX_QUANTITY).contains(&max_quantity) {
            return Err(format!("max_quantity must be between 1 and {}", Self::MAX_QUANTITY));
        }
        if !(1..=Self::MAX_LINES).contains(&max_lines) {
            return Err(format!("max_lines must be between 1 and {}", Self::MAX_LINES));
        }
        Ok(Self { max_quantity, max_lines })
    }
}

/// A product as the basket knows it from the catalog's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    /// The price the catalog asks now.
    pub price: Money,
    /// False once the catalog deleted it; its last name and price are kept for display.
    pub available: bool,
}

/// What the customer put in the basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: Uuid,
    pub quantity: i64,
    /// The catalog's price when the line was first added; kept as the line grows or shrinks, so
    /// that the customer is told when the price moved since they chose the product.
    pub price_when_added: Money,
}

/// A line with its product as the catalog has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: Line,
    pub product: Product,
}

impl Entry {
    pub fn price_changed(&self) -> bool {
        self.product.price != self.line.price_when_added
    }

    /// The line at today's price.
    pub fn total(&self) -> Money {
        self.product.price.times(self.line.quantity)
    }
}

/// Which part of a request broke a rule; the API turns it into a JSON pointer or a parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Quantity,
    Product,
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: Field,
    pub message: String,
}

impl Violation {
    fn new(field: Field, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// Why a basket refused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(Violation),
    /// The basket holds no line for this product.
    NotInBasket(Uuid),
}

impl From<Violation> for Refusal {
    fn from(violation: Violation) -> Self {
        Self::Invalid(violation)
    }
}

/// What a change does to the stored basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Store this line, replacing the one for its product if there is one.
    Put(Line),
    Remove(Uuid),
    Clear,
    /// Nothing to store: the basket already is as asked.
    Unchanged,
}

/// A customer's basket, lines in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Basket {
    pub entries: Vec<Entry>,
}

impl Basket {
    /// Adds `quantity` of `product` (`None`: the catalog never had it), growing its line if there
    /// is one.
    pub fn add(&self, product: Option<&Product>, quantity: i64, limits: Limits) -> Result<Edit, Refusal> {
        check_quantity(quantity, limits)?;
        let product = available(product)?;
        let Some(entry) = self.entry(product.id) else {
            return self.new_line(product, quantity, limits);
        };
        let grown = entry.line.quantity.saturating_add(quantity);
        if grown > limits.max_quantity {
            return Err(Violation::new(
                Field::Quantity,
                format!(
                    "would make the line {grown}, and a line holds at most {} (it holds {})",
                    limits.max_quantity, entry.line.quantity
                ),
            )
            .into());
        }
        Ok(Edit::Put(Line { quantity: grown, ..entry.line.clone() }))
    }

    /// Sets the line of `product` to `quantity`, adding the line if there is none.
    pub fn set(&self, product: Option<&Product>, quantity: i64, limits: Limits) -> Result<Edit, Refusal> {
        check_quantity(quantity, limits)?;
        let product = available(product)?;
        match self.entry(product.id) {
            Some(entry) if entry.line.quantity == quantity => Ok(Edit::Unchanged),
            Some(entry) => Ok(Edit::Put(Line { quantity, ..entry.line.clone() })),
            None => self.new_line(product, quantity, limits),
        }
    }

    /// Removes the line of a product, available or not.
    pub fn remove(&self, product_id: Uuid) -> Result<Edit, Refusal> {
        match self.entry(product_id) {
            Some(_) => Ok(Edit::Remove(product_id)),
            None => Err(Refusal::NotInBasket(product_id)),
        }
    }

    /// What leaves the basket when an order is placed from it: each ordered quantity comes off
    /// its line, and a line with nothing left goes. Lines added or grown after the checkout stay.
    pub fn check_out(&self, ordered: &[(Uuid, i64)]) -> Vec<Edit> {
        ordered
            .iter()
            .filter_map(|(product_id, quantity)| {
                let entry = self.entry(*product_id)?;
                let left = entry.line.quantity - quantity;
                Some(if left > 0 {
                    Edit::Put(Line { quantity: left, ..entry.line.clone() })
                } else {
                    Edit::Remove(*product_id)
                })
            })
            .collect()
    }

    pub fn clear(&self) -> Edit {
        if self.entries.is_empty() { Edit::Unchanged } else { Edit::Clear }
    }

    /// What the available lines cost at today's prices, one total per currency. A basket is kept
    /// to one currency, so this is a single total unless the catalog later moved a product to
    /// another currency; deleted products cost nothing, since they can no longer be bought.
    pub fn totals(&self) -> Vec<Money> {
        let lines: Vec<Money> = self.entries.iter().filter(|e| e.product.available).map(Entry::total).collect();
        money::totals(&lines)
    }

    fn entry(&self, product_id: Uuid) -> Option<&Entry> {
        self.entries.iter().find(|e| e.line.product_id == product_id)
    }

    /// The currency check applies only to a new line: changing the quantity of a product already
    /// in the basket never makes it hold more currencies than it does.
    fn new_line(&self, product: &Product, quantity: i64, limits: Limits) -> Result<Edit, Refusal> {
        if self.entries.len() >= limits.max_lines {
            return Err(Violation::new(
                Field::Product,
                format!("cannot be added: the basket already holds {} lines, the most it may", limits.max_lines),
            )
            .into());
        }
        let other = self
            .entries
            .iter()
            .filter(|e| e.product.available)
            .find(|e| e.product.price.currency != product.price.currency);
        if let Some(other) = other {
            return Err(Violation::new(
                Field::Product,
                format!(
                    "is priced in {}, and this basket is in {}: a basket holds one currency",
                    product.price.currency, other.product.price.currency
                ),
            )
            .into());
        }
        Ok(Edit::Put(Line { product_id: product.id, quantity, price_when_added: product.price.clone() }))
    }
}

fn check_quantity(quantity: i64, limits: Limits) -> Result<(), Violation> {
    if (1..=limits.max_quantity).contains(&quantity) {
        return Ok(());
    }
    Err(Violation::new(Field::Quantity, format!("must be between 1 and {}", limits.max_quantity)))
}

fn available(product: Option<&Product>) -> Result<&Product, Violation> {
    match product {
        Some(product) if product.available => Ok(product),
        Some(_) => Err(Violation::new(Field::Product, "is no longer in the catalogue")),
        None => Err(Violation::new(Field::Product, "is not in the catalogue")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_quantity: 99, max_lines: 3 };

    fn price(amount_minor: i64, currency: &str) -> Money {
        Money::price(amount_minor, currency).unwrap()
    }

    fn product(amount_minor: i64, currency: &str) -> Product {
        Product {
            id: Uuid::now_v7(),
            sku: "KIT-1".into(),
            name: "Skillet".into(),
            price: price(amount_minor, currency),
            available: true,
        }
    }

    /// `basket` after `edit`, as the store would keep it (products as they are now).
    fn apply(basket: &Basket, edit: Edit, product: &Product) -> Basket {
        let mut entries = basket.entries.clone();
        match edit {
            Edit::Put(line) => match entries.iter_mut().find(|e| e.line.product_id == line.product_id) {
                Some(entry) => entry.line = line,
                None => entries.push(Entry { line, product: product.clone() }),
            },
            Edit::Remove(id) => entries.retain(|e| e.line.product_id != id),
            Edit::Clear => entries.clear(),
            Edit::Unchanged => {}
        }
        Basket { entries }
    }

    fn invalid(refusal: Result<Edit, Refusal>) -> Violation {
        match refusal {
            Err(Refusal::Invalid(violation)) => violation,
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn a_checkout_takes_what_was_ordered_and_leaves_what_came_after() {
        let (skillet, whisk, pan) = (product(3499, "EUR"), product(250, "EUR"), product(900, "EUR"));
        let mut basket = Basket::default();
        for (item, quantity) in [(&skillet, 2), (&whisk, 3), (&pan, 1)] {
            basket = apply(&basket, basket.add(Some(item), quantity, LIMITS).unwrap(), item);
        }
        // Ordered: both skillets and one whisk; a line for an unknown product is ignored.
        let ordered = [(skillet.id, 2), (whisk.id, 1), (Uuid::now_v7(), 4)];
        let edits = basket.check_out(&ordered);
        assert_eq!(edits.len(), 2);
        assert_eq!(edits[0], Edit::Remove(skillet.id));
        let Edit::Put(line) = &edits[1] else { panic!("a put") };
        assert_eq!((line.product_id, line.quantity), (whisk.id, 2));
        assert!(Basket::default().check_out(&ordered).is_empty());
    }

    #[test]
    fn adding_twice_grows_one_line_and_keeps_the_first_price() {
        let skillet = product(3499, "EUR");
        let empty = Basket::default();
        let once = apply(&empty, empty.add(Some(&skillet), 2, LIMITS).unwrap(), &skillet);
        let dearer = Product { price: price(3999, "EUR"), ..skillet.clone() };
        let Edit::Put(line) = once.add(Some(&dearer), 3, LIMITS).unwrap() else { panic!("a put") };
        assert_eq!((line.quantity, line.price_when_added), (5, price(3499, "EUR")));
    }

    #[test]
    fn quantities_are_bounded_per_request_and_per_line() {
        let skillet = product(100, "EUR");
        let empty = Basket::default();
        for quantity in [0, -1, 100, i64::MIN, i64::MAX] {
            let violation = invalid(empty.add(Some(&skillet), quantity, LIMITS));
            assert_eq!(violation, Violation::new(Field::Quantity, "must be between 1 and 99"), "{quantity}");
            assert_eq!(invalid(empty.set(Some(&skillet), quantity, LIMITS)).field, Field::Quantity);
        }
        let full = apply(&empty, empty.add(Some(&skillet), 99, LIMITS).unwrap(), &skillet);
        let violation = invalid(full.add(Some(&skillet), 1, LIMITS));
        assert_eq!(violation.field, Field::Quantity);
        assert!(violation.message.contains("would make the line 100"), "{}", violation.message);
        let Edit::Put(line) = full.set(Some(&skillet), 1, LIMITS).unwrap() else { panic!("a put") };
        assert_eq!(line.quantity, 1, "setting replaces the quantity");
    }

    #[test]
    fn setting_the_same_quantity_changes_nothing_and_setting_a_new_product_adds_it() {
        let skillet = product(100, "EUR");
        let empty = Basket::default();
        let Edit::Put(line) = empty.set(Some(&skillet), 4, LIMITS).unwrap() else { panic!("a put") };
        assert_eq!((line.quantity, line.price_when_added.amount_minor), (4, 100));
        let basket = apply(&empty, Edit::Put(line), &skillet);
        assert_eq!(basket.set(Some(&skillet), 4, LIMITS), Ok(Edit::Unchanged));
    }

    #[test]
    fn a_basket_holds_a_bounded_number_of_lines() {
        let mut basket = Basket::default();
        for _ in 0..LIMITS.max_lines {
            let p = product(100, "EUR");
            basket = apply(&basket, basket.add(Some(&p), 1, LIMITS).unwrap(), &p);
        }
        let one_more = product(100, "EUR");
        let violation = invalid(basket.add(Some(&one_more), 1, LIMITS));
        assert_eq!(violation.field, Field::Product);
        assert!(violation.message.contains("3 lines"), "{}", violation.message);
        let first = basket.entries[0].product.clone();
        assert!(basket.add(Some(&first), 1, LIMITS).is_ok(), "growing a line adds no line");
    }

    #[test]
    fn a_basket_holds_one_currency() {
        let skillet = product(100, "EUR");
        let basket = apply(&Basket::default(), Basket::default().add(Some(&skillet), 1, LIMITS).unwrap(), &skillet);
        let dollars = product(100, "USD");
        let violation = invalid(basket.add(Some(&dollars), 1, LIMITS));
        assert_eq!(violation.field, Field::Product);
        assert!(violation.message.contains("USD") && violation.message.contains("EUR"), "{}", violation.message);
        assert_eq!(invalid(basket.set(Some(&dollars), 1, LIMITS)).field, Field::Product);
        // Once the euro line's product is gone, the basket holds no currency that could clash.
        let mut gone = basket.clone();
        gone.entries[0].product.available = false;
        assert!(gone.add(Some(&dollars), 1, LIMITS).is_ok());
    }

    #[test]
    fn unknown_and_deleted_products_cannot_be_added_but_their_lines_can_be_removed() {
        let skillet = product(100, "EUR");
        let empty = Basket::default();
        assert_eq!(invalid(empty.add(None, 1, LIMITS)), Violation::new(Field::Product, "is not in the catalogue"));
        let mut basket = apply(&empty, empty.add(Some(&skillet), 1, LIMITS).unwrap(), &skillet);
        basket.entries[0].product.available = false;
        let deleted = basket.entries[0].product.clone();
        assert_eq!(invalid(basket.add(Some(&deleted), 1, LIMITS)).message, "is no longer in the catalogue");
        assert_eq!(invalid(basket.set(Some(&deleted), 2, LIMITS)).field, Field::Product);
        assert_eq!(basket.remove(skillet.id), Ok(Edit::Remove(skillet.id)));
        assert_eq!(basket.remove(Uuid::now_v7()).map_err(|r| matches!(r, Refusal::NotInBasket(_))), Err(true));
    }

    #[test]
    fn clearing_an_empty_basket_changes_nothing() {
        assert_eq!(Basket::default().clear(), Edit::Unchanged);
        let skillet = product(100, "EUR");
        let basket = apply(&Basket::default(), Basket::default().add(Some(&skillet), 1, LIMITS).unwrap(), &skillet);
        assert_eq!(basket.clear(), Edit::Clear);
    }

    #[test]
    fn prices_are_compared_with_when_added_and_totals_skip_deleted_products() {
        let skillet = product(1000, "EUR");
        let pan = product(250, "EUR");
        let mut basket = Basket::default();
        basket = apply(&basket, basket.add(Some(&skillet), 2, LIMITS).unwrap(), &skillet);
        basket = apply(&basket, basket.add(Some(&pan), 3, LIMITS).unwrap(), &pan);
        assert!(basket.entries.iter().all(|e| !e.price_changed()));
        assert_eq!(basket.totals(), vec![price(2750, "EUR")]);

        basket.entries[0].product.price = price(900, "EUR");
        assert!(basket.entries[0].price_changed());
        assert_eq!(basket.entries[0].total(), price(1800, "EUR"), "lines are priced as they are now");
        assert_eq!(basket.totals(), vec![price(2550, "EUR")]);

        basket.entries[1].product.available = false;
        assert_eq!(basket.totals(), vec![price(1800, "EUR")]);
        basket.entries[0].product.price = price(900, "USD");
        assert_eq!(basket.totals(), vec![price(1800, "USD")], "a currency moved by the catalog is totalled apart");
        assert!(Basket::default().totals().is_empty());
    }

    #[test]
    fn limits_are_bounded_so_totals_cannot_overflow() {
        assert!(Limits::new(99, 50).is_ok());
        assert!(Limits::new(0, 50).is_err());
        assert!(Limits::new(99, 0).is_err());
        assert!(Limits::new(Limits::MAX_QUANTITY + 1, 50).is_err());
        assert!(Limits::new(99, Limits::MAX_LINES + 1).is_err());
        let worst = super::money::MAX_AMOUNT_MINOR
            .checked_mul(Limits::MAX_QUANTITY)
            .and_then(|line| line.checked_mul(i64::try_from(Limits::MAX_LINES).unwrap()));
        assert!(worst.is_some());
    }
}
