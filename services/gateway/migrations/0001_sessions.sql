-- Browser sessions (backend-for-frontend): the cookie holds a random id, this table holds its
-- SHA-256 and the tokens, which never reach the browser.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    roles TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    access_token TEXT NOT NULL,
    access_expires_at TEXT NOT NULL,
    refresh_token TEXT,
    -- One replica refreshes at a time; the others wait for the new access token.
    refresh_lock_until TEXT,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Sign-ins under way: the state sent to the provider, with the PKCE verifier and nonce.
CREATE TABLE logins (
    state_hash TEXT PRIMARY KEY,
    code_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    return_to TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
