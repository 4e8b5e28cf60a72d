-- The simulated processor's payment intents and refunds. Portable SQL: TEXT ids and timestamps
-- (RFC 3339, UTC), BIGINT minor units. No card number is stored: only what it decided.
CREATE TABLE payment_intents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount_capturable BIGINT NOT NULL,
    amount_captured BIGINT NOT NULL,
    amount_refunded BIGINT NOT NULL,
    reference TEXT NOT NULL,
    last_error_code TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- How a merchant finds out whether the provider acted on an order ("did my create go through?").
CREATE INDEX payment_intents_by_reference ON payment_intents (reference, created_at, id);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_intent TEXT NOT NULL REFERENCES payment_intents (id),
    amount BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX refunds_by_payment_intent ON refunds (payment_intent, created_at, id);
