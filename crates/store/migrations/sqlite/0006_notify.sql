-- Proactive work (issue 7). Scheduled runs and outgoing messages are operational records, not
-- changes to the estate, so they are kept here rather than in the audit chain (whose length is
-- the estate's version); changes to who is told what (preferences, webhooks) are audited.

-- One row per job and scheduled moment: the primary key is what makes a run happen once across
-- replicas. A runner holds the row by its lease; a row still `running` after its lease is taken
-- over by another replica.
CREATE TABLE job_runs (
    job         TEXT NOT NULL,
    slot        INTEGER NOT NULL,
    state       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    detail      TEXT,
    PRIMARY KEY (job, slot)
) WITHOUT ROWID;
CREATE INDEX job_runs_running ON job_runs (state, lease_until);

-- Every message is written here, under its idempotency key, before anything is sent.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body_text   TEXT NOT NULL,
    body_html   TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    owner       TEXT,
    lease_until INTEGER,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    last_error  TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_at);

-- Who is told what, and when.
CREATE TABLE notify_prefs (
    username      TEXT PRIMARY KEY REFERENCES users (username),
    email         TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    min_severity  TEXT NOT NULL,
    quiet         TEXT,
    unsubscribe   TEXT NOT NULL UNIQUE,
    last_digest   TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE webhooks (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    format      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    min_severity TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Whom a site's reception calls (administration page; audited), beside the configuration's
-- [[contacts]], on the site's cheat sheet.
CREATE TABLE site_contacts (
    site       TEXT NOT NULL,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    phone      TEXT,
    email      TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (site, role, name)
) WITHOUT ROWID;
