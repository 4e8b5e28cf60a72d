-- Orders and their sagas. Portable SQL: TEXT ids and timestamps (RFC 3339, UTC), money as
-- BIGINT minor units, JSON as TEXT.
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    -- The public status: pending, stock_reserved, payment_authorized, confirmed, shipped,
    -- rejected, cancelled.
    status TEXT NOT NULL,
    -- The saga's step (what it waits for) and what it will end in once compensated.
    phase TEXT NOT NULL,
    undo_stock BIGINT NOT NULL DEFAULT 0,
    undo_payment BIGINT NOT NULL DEFAULT 0,
    ending TEXT,
    reason TEXT,
    -- Grows with every step; a timer set for an older one is stale.
    version BIGINT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor > 0),
    currency TEXT NOT NULL,
    lines TEXT NOT NULL,
    ship_to TEXT NOT NULL,
    -- Kept only until the authorization is sent.
    payment_method TEXT,
    captured_minor BIGINT NOT NULL DEFAULT 0,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    carrier TEXT,
    tracking_number TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, order_id);
CREATE INDEX orders_by_status ON orders (status, order_id);

-- Each order's steps, in order, with their times.
CREATE TABLE order_timeline (
    order_id TEXT NOT NULL REFERENCES orders (order_id),
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    step TEXT NOT NULL,
    detail TEXT,
    PRIMARY KEY (order_id, seq)
);
