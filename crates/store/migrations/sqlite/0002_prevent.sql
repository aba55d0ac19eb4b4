-- What the health checks need beyond the first estate schema (issue 3): when a role was asked
-- for, when a workstation takes its updates, and each time a card was locked.

ALTER TABLE positions ADD COLUMN requested_on TEXT;
ALTER TABLE workstations ADD COLUMN update_window TEXT;

CREATE TABLE lockouts (
    card_serial TEXT NOT NULL REFERENCES cards (card_serial) DEFERRABLE INITIALLY DEFERRED,
    locked_at   TEXT NOT NULL,
    unlocked_at TEXT,
    PRIMARY KEY (card_serial, locked_at)
) WITHOUT ROWID;

-- Acknowledgements and snoozes of findings. Findings themselves are recomputed from the estate
-- each time; only what a person decided about one is kept, until it expires.
CREATE TABLE finding_notes (
    finding_id TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    noted_at   INTEGER NOT NULL,
    until      TEXT NOT NULL
) WITHOUT ROWID;
