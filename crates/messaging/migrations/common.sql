-- The messaging tables every service keeps next to its business tables (see crates/messaging),
-- after the outbox table, whose spelling differs per backend (outbox.sqlite.sql, outbox.postgres.sql).

-- Which relay replica publishes, until when (Unix milliseconds). One row per service.
CREATE TABLE outbox_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Messages a consumer has applied: inserted in the handler's transaction, so a redelivery of
-- the same id finds it and changes nothing.
CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    message_id TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

-- Failed attempts of messages still being retried: where the first error of a dead letter
-- comes from.
CREATE TABLE consumer_failures (
    consumer TEXT NOT NULL,
    message_id TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    first_error TEXT NOT NULL,
    first_failed_at TEXT NOT NULL,
    last_error TEXT NOT NULL,
    last_failed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

-- Messages a consumer gave up on, whole (headers and body), with why, for list, replay, discard.
CREATE TABLE dead_letters (
    id TEXT PRIMARY KEY,
    consumer TEXT NOT NULL,
    message_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload_base64 TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    first_error TEXT NOT NULL,
    last_error TEXT NOT NULL,
    first_failed_at TEXT NOT NULL,
    last_failed_at TEXT NOT NULL,
    state TEXT NOT NULL,
    replays BIGINT NOT NULL
);
CREATE INDEX dead_letters_by_consumer ON dead_letters (consumer, state);
