-- The basket service's tables. Portable SQL (ADR 0002): TEXT ids and timestamps (RFC 3339, UTC),
-- BIGINT money in minor units next to its currency code, BIGINT 0/1 for flags.

-- The catalog's products as its events last told us, the only source of names and prices: a
-- request never waits on the catalog. `version` is the catalog's; an older state is ignored.
-- A product is never removed, only marked deleted, so that its lines keep a name to show and a
-- late, older event cannot bring it back. A deletion that arrives before any state leaves a
-- tombstone without name or price.
CREATE TABLE products (
    product_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    name TEXT,
    price_amount_minor BIGINT,
    price_currency TEXT,
    version BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    CHECK (deleted = 1 OR (name IS NOT NULL AND price_amount_minor IS NOT NULL AND price_currency IS NOT NULL))
);

-- One basket per customer (the subject of their token). Its version grows with every change and
-- is the ETag; the row outlives a cleared basket so that versions never repeat.
CREATE TABLE baskets (
    customer_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE basket_lines (
    customer_id TEXT NOT NULL REFERENCES baskets (customer_id),
    product_id TEXT NOT NULL REFERENCES products (product_id),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    added_amount_minor BIGINT NOT NULL,
    added_currency TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, product_id)
);

-- Orders placed from baskets, so that an order's lines leave its basket once however often the
-- event arrives.
CREATE TABLE checkouts (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    at TEXT NOT NULL
);
