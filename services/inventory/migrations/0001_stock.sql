-- Stock per SKU and the reservations that hold it. Portable SQL: TEXT ids and timestamps
-- (RFC 3339, UTC). The CHECKs are the last line of defence behind the service's rules: no
-- statement can leave a count below zero, or the counts out of balance with what was received.
CREATE TABLE stock_items (
    sku TEXT PRIMARY KEY,
    product_id TEXT,
    available BIGINT NOT NULL CHECK (available >= 0),
    reserved BIGINT NOT NULL CHECK (reserved >= 0),
    committed BIGINT NOT NULL CHECK (committed >= 0),
    -- Everything ever received less what adjustments took away.
    received BIGINT NOT NULL,
    discontinued BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (available + reserved + committed = received)
);

-- Every receipt and adjustment, the audit trail behind `received`.
CREATE TABLE stock_movements (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL REFERENCES stock_items (sku),
    delta BIGINT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX stock_movements_by_sku ON stock_movements (sku, at);

-- One per order. `state`: held, committed, released, expired, refused.
CREATE TABLE reservations (
    order_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_at TEXT,
    -- For a refused reservation: the shortages it was refused for, as JSON.
    shortages TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE reservation_lines (
    order_id TEXT NOT NULL REFERENCES reservations (order_id),
    sku TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);
