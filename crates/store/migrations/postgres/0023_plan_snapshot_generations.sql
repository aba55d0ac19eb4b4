-- The plan snapshot's parts kept by generation (store plan_snapshot.rs): a write puts its parts
-- under a generation of its own, each part in a short transaction, and the stamp names the
-- generation a reader takes, so no transaction holds the store's one writer for the whole
-- snapshot (seconds nationally) and a reader never sees a mix. The snapshot kept is generation 0.
ALTER TABLE plan_snapshot ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE plan_snapshot_parts ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE plan_snapshot_parts DROP CONSTRAINT plan_snapshot_parts_pkey;
ALTER TABLE plan_snapshot_parts ADD PRIMARY KEY (generation, part);
