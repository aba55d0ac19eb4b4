-- Secrets for automation and calendars (issue 5): an API token signs an operator's scripts in;
-- a calendar token is the secret in a feed's address. Kept only as SHA-256; `id` is the short
-- public name shown in lists and used to revoke.
CREATE TABLE tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    id         TEXT COLLATE "C" NOT NULL UNIQUE,
    username   TEXT COLLATE "C" NOT NULL REFERENCES users (username),
    name       TEXT NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    site       TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
