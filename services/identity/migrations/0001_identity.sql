-- Users sign in with an email address and an argon2id password hash; roles are space-separated.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at TEXT NOT NULL,
    failed_sign_ins BIGINT NOT NULL DEFAULT 0,
    locked_until TEXT
);

-- Signing keys, newest generation last. A key signs from `signs_from` until the next one does,
-- and stays published until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    generation BIGINT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    private_key TEXT NOT NULL,
    signs_from TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Codes and refresh tokens are stored as SHA-256 hashes: a leaked table grants nothing.
CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    -- The refresh-token family the code was exchanged for, revoked if the code is replayed.
    family_id TEXT
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
