-- Triage incidents (issue 4). A card or workstation named in an incident need not be in the
-- estate (a card typed by hand at the desk), so these are plain text, not references. Steps are
-- kept as a JSON list in order: they are only ever appended and read whole.
CREATE TABLE incidents (
    id              BIGSERIAL PRIMARY KEY,
    opened_at       BIGINT NOT NULL,
    reporter        TEXT COLLATE "C" NOT NULL,
    site            TEXT COLLATE "C",
    card_serial     TEXT COLLATE "C",
    hostname        TEXT COLLATE "C",
    application     TEXT COLLATE "C",
    doing           TEXT,
    symptom         TEXT COLLATE "C" NOT NULL,
    error_text      TEXT,
    steps           TEXT NOT NULL DEFAULT '[]',
    status          TEXT COLLATE "C" NOT NULL DEFAULT 'open',
    confirmed_cause TEXT COLLATE "C",
    minutes_to_fix  DOUBLE PRECISION,
    closed_at       BIGINT
);

-- Two reports of one symptom at one site within the hour escalate: found by this index.
CREATE INDEX incidents_site_symptom ON incidents (site, symptom, opened_at);
