-- The notifications recorded from order milestones, and the mail the embedded sink received.
-- Portable SQL: TEXT ids and timestamps (RFC 3339, UTC, fixed width, so they sort as text).

-- One per order and milestone: the UNIQUE constraint is what makes a resent event (a new
-- envelope for the same milestone) record nothing new, beyond the inbox's per-message guard.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    milestone TEXT NOT NULL,
    -- The order's customer (a token subject): the one caller besides admins who may read it.
    customer_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    message_id TEXT NOT NULL,
    -- pending, sent or failed.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When a pending notification is next tried; while one is being sent, the end of the
    -- sender's claim on it.
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (order_id, milestone)
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);

-- What the sink received. Recipients one per line (the sink refuses addresses with spaces).
CREATE TABLE sink_messages (
    id TEXT PRIMARY KEY,
    mail_from TEXT NOT NULL,
    rcpt_to TEXT NOT NULL,
    subject TEXT,
    message_id TEXT,
    body TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    received_at TEXT NOT NULL
);
