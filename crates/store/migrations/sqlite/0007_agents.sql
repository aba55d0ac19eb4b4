-- Workstation agents (issue 6): an administrator makes a one-time enrolment token; an agent
-- exchanges it for a credential of its own. Only hashes of both secrets are kept.
CREATE TABLE enrolment_tokens (
    token_hash TEXT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    agent_id   TEXT
) WITHOUT ROWID;

CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    hostname        TEXT NOT NULL,
    credential_hash TEXT NOT NULL UNIQUE,
    version         TEXT NOT NULL,
    enrolled_at     INTEGER NOT NULL,
    last_seen       INTEGER,
    revoked_at      INTEGER
) WITHOUT ROWID;
