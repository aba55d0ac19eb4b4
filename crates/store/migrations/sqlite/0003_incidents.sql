-- Triage incidents (issue 4). A card or workstation named in an incident need not be in the
-- estate (a card typed by hand at the desk), so these are plain text, not references. Steps are
-- kept as a JSON list in order: they are only ever appended and read whole.
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    opened_at       INTEGER NOT NULL,
    reporter        TEXT NOT NULL,
    site            TEXT,
    card_serial     TEXT,
    hostname        TEXT,
    application     TEXT,
    doing           TEXT,
    symptom         TEXT NOT NULL,
    error_text      TEXT,
    steps           TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'open',
    confirmed_cause TEXT,
    minutes_to_fix  REAL,
    closed_at       INTEGER
);

-- Two reports of one symptom at one site within the hour escalate: found by this index.
CREATE INDEX incidents_site_symptom ON incidents (site, symptom, opened_at);
