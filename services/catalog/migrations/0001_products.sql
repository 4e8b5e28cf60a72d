-- Portable SQL (ADR 0002): runs unchanged on SQLite and PostgreSQL.
-- Ids are UUID text, money is BIGINT minor units, timestamps are RFC 3339 UTC text, JSON is text.
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price_amount_minor BIGINT NOT NULL CHECK (price_amount_minor >= 0),
    price_currency TEXT NOT NULL,
    category TEXT NOT NULL,
    image TEXT,
    attributes TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX products_by_category ON products (category, id);

-- The search index (ADR 0003): whole words and their prefixes, with a weight per product.
CREATE TABLE product_terms (
    term TEXT NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    weight BIGINT NOT NULL,
    PRIMARY KEY (term, product_id)
);

CREATE INDEX product_terms_by_product ON product_terms (product_id);

-- One-off facts about this database, such as whether the demo catalogue was loaded.
CREATE TABLE catalog_meta (
    meta_key TEXT PRIMARY KEY,
    meta_value TEXT NOT NULL
);
