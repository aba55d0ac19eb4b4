-- The plan snapshot's parts kept by generation (store plan_snapshot.rs): a write puts its parts
-- under a generation of its own, each part in a short transaction, and the stamp names the
-- generation a reader takes, so no transaction holds the store's one writer for the whole
-- snapshot (seconds nationally) and a reader never sees a mix. The snapshot kept is generation 0.
ALTER TABLE plan_snapshot ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
CREATE TABLE plan_snapshot_parts_by_generation (
    generation INTEGER NOT NULL,
    part       INTEGER NOT NULL,
    checksum   TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (generation, part)
);
INSERT INTO plan_snapshot_parts_by_generation (generation, part, checksum, body)
    SELECT 0, part, checksum, body FROM plan_snapshot_parts;
DROP TABLE plan_snapshot_parts;
ALTER TABLE plan_snapshot_parts_by_generation RENAME TO plan_snapshot_parts;
