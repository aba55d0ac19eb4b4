-- The renewal plan's kept renewals (store plan_snapshot.rs): a server starting takes them from
-- here, stamped with the audit chain's length and that record's hash, instead of reading the
-- whole estate. Derived from the estate and written again as it changes; never audited.
CREATE TABLE plan_snapshot (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    format      INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    version     INTEGER NOT NULL,
    chain_hash  TEXT NOT NULL,
    renewals    INTEGER NOT NULL,
    places      TEXT NOT NULL,
    -- The SHA-256 of `places`.
    checksum    TEXT NOT NULL
);
-- The renewals as CSV (each line naming a place by its line in `places`), a part of 100,000 at a time, each with the SHA-256 of its text.
CREATE TABLE plan_snapshot_parts (
    part     INTEGER PRIMARY KEY,
    checksum TEXT NOT NULL,
    body     TEXT NOT NULL
);
