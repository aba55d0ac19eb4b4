-- What the health checks need beyond the first estate schema (issue 3): when a role was asked
-- for, when a workstation takes its updates, and each time a card was locked.

ALTER TABLE positions ADD COLUMN requested_on DATE;
ALTER TABLE workstations ADD COLUMN update_window TEXT COLLATE "C";

CREATE TABLE lockouts (
    card_serial TEXT COLLATE "C" NOT NULL REFERENCES cards (card_serial) DEFERRABLE INITIALLY DEFERRED,
    locked_at   TIMESTAMPTZ NOT NULL,
    unlocked_at TIMESTAMPTZ,
    PRIMARY KEY (card_serial, locked_at)
);

-- Acknowledgements and snoozes of findings. Findings themselves are recomputed from the estate
-- each time; only what a person decided about one is kept, until it expires.
CREATE TABLE finding_notes (
    finding_id TEXT COLLATE "C" PRIMARY KEY,
    state      TEXT COLLATE "C" NOT NULL,
    reason     TEXT COLLATE "C" NOT NULL,
    actor      TEXT COLLATE "C" NOT NULL,
    noted_at   BIGINT NOT NULL,
    until      DATE NOT NULL
);
