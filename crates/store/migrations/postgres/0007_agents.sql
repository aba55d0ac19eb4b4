-- Workstation agents (issue 6): an administrator makes a one-time enrolment token; an agent
-- exchanges it for a credential of its own. Only hashes of both secrets are kept.
CREATE TABLE enrolment_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    agent_id   TEXT
);

CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    hostname        TEXT NOT NULL,
    credential_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    version         TEXT NOT NULL,
    enrolled_at     BIGINT NOT NULL,
    last_seen       BIGINT,
    revoked_at      BIGINT
);
