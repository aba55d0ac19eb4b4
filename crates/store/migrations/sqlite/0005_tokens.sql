-- Secrets for automation and calendars (issue 5): an API token signs an operator's scripts in;
-- a calendar token is the secret in a feed's address. Kept only as SHA-256; `id` is the short
-- public name shown in lists and used to revoke.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    username   TEXT NOT NULL REFERENCES users (username),
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    site       TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
