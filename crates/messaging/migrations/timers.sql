-- Durable timers (see crates/messaging/src/timers.rs): a message a service scheduled to itself,
-- moved into the outbox, in one transaction, once `fire_at` (Unix milliseconds) has passed.
CREATE TABLE timers (
    timer_key TEXT PRIMARY KEY,
    fire_at BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX timers_by_fire_at ON timers (fire_at);
