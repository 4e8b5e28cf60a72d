-- One payment per order, and the calls to the provider it is waiting for. Portable SQL: TEXT
-- ids and timestamps (RFC 3339, UTC), money as BIGINT minor units.
CREATE TABLE payments (
    order_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL,
    -- authorizing, authorized, declined, failed, captured, voided, refunded, cancelled
    state TEXT NOT NULL,
    -- The provider's payment intent, once it is known.
    intent_id TEXT,
    -- The decline code or the failure reason of a payment that did not go through.
    detail TEXT,
    captured_minor BIGINT NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
    refunded_minor BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= captured_minor),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- A command that needs the provider, kept until the provider's answer is recorded and the
-- command answered. An order's operations run one at a time, in the order they arrived.
CREATE TABLE payment_operations (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES payments (order_id),
    -- authorize, capture, cancel
    kind TEXT NOT NULL,
    -- pending, done
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- An earlier attempt may have reached the provider without an answer: ask before acting.
    uncertain BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    -- The command to answer, as it arrived (headers as JSON, payload). The payload of an
    -- authorization holds the card number: it is wiped once the operation is done.
    command_headers TEXT NOT NULL,
    command_payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX payment_operations_due ON payment_operations (state, next_attempt_ms);
CREATE INDEX payment_operations_by_order ON payment_operations (order_id, id);
