-- Failed sign-ins, counted for an account from one address, for an account from every address
-- and for an address against every account. `key_hash` is the SHA-256 of what is counted, so
-- neither the emails typed nor the addresses are stored. A row is forgotten at `forget_at`.
CREATE TABLE sign_in_failures (
    key_hash TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at TEXT NOT NULL,
    forget_at TEXT NOT NULL
);

CREATE INDEX sign_in_failures_by_forget_at ON sign_in_failures (forget_at);

-- users.failed_sign_ins and users.locked_until (the lockout this replaces) are no longer read
-- or written. They stay, so that replicas of the previous version keep working while a rolling
-- upgrade runs; a later migration may drop them.
