-- Events written in the same transaction as the change they describe; the relay publishes them
-- in `position` order and deletes them once the bus has them.
CREATE TABLE outbox (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    message_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);

