-- Proactive work (issue 7). Scheduled runs and outgoing messages are operational records, not
-- changes to the estate, so they are kept here rather than in the audit chain (whose length is
-- the estate's version); changes to who is told what (preferences, webhooks) are audited.

-- One row per job and scheduled moment: the primary key is what makes a run happen once across
-- replicas. A runner holds the row by its lease; a row still `running` after its lease is taken
-- over by another replica.
CREATE TABLE job_runs (
    job         TEXT COLLATE "C" NOT NULL,
    slot        BIGINT NOT NULL,
    state       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    detail      TEXT,
    PRIMARY KEY (job, slot)
);
CREATE INDEX job_runs_running ON job_runs (state, lease_until);

-- Every message is written here, under its idempotency key, before anything is sent.
CREATE TABLE outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         TEXT COLLATE "C" NOT NULL UNIQUE,
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body_text   TEXT NOT NULL,
    body_html   TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    next_at     BIGINT NOT NULL,
    owner       TEXT,
    lease_until BIGINT,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT,
    last_error  TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_at, id);

-- Who is told what, and when.
CREATE TABLE notify_prefs (
    username      TEXT COLLATE "C" PRIMARY KEY REFERENCES users (username),
    email         TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    min_severity  TEXT NOT NULL,
    quiet         TEXT,
    unsubscribe   TEXT COLLATE "C" NOT NULL UNIQUE,
    last_digest   TEXT NOT NULL
);

CREATE TABLE webhooks (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    format      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    min_severity TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Whom a site's reception calls (administration page; audited), beside the configuration's
-- [[contacts]], on the site's cheat sheet.
CREATE TABLE site_contacts (
    site       TEXT COLLATE "C" NOT NULL,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    phone      TEXT,
    email      TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (site, role, name)
);
