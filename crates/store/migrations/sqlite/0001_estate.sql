-- The estate, one table per import kind; columns named as in the CSV contract (docs/IMPORT.md).
-- Dates are ISO text (YYYY-MM-DD), moments ISO text in UTC, yes/no as 0/1.
-- Text primary keys without rowid: the natural key is the only way records are found.

CREATE TABLE organisations (
    ods_code   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    "type"     TEXT NOT NULL,
    parent_ods TEXT REFERENCES organisations (ods_code) DEFERRABLE INITIALLY DEFERRED
) WITHOUT ROWID;

CREATE TABLE sites (
    site_ods         TEXT PRIMARY KEY,
    organisation_ods TEXT NOT NULL REFERENCES organisations (ods_code) DEFERRABLE INITIALLY DEFERRED,
    name             TEXT NOT NULL,
    core_hours       TEXT
) WITHOUT ROWID;

CREATE TABLE people (
    uuid           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    email          TEXT,
    staff_role     TEXT,
    site_ods       TEXT NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    employment_end TEXT,
    local_admin    INTEGER NOT NULL,
    ra_roles       TEXT
) WITHOUT ROWID;
CREATE INDEX people_site ON people (site_ods);

CREATE TABLE cards (
    card_serial  TEXT PRIMARY KEY,
    holder_uuid  TEXT NOT NULL REFERENCES people (uuid) DEFERRABLE INITIALLY DEFERRED,
    series       INTEGER NOT NULL,
    status       TEXT NOT NULL,
    issued_on    TEXT NOT NULL,
    last_used_on TEXT
) WITHOUT ROWID;
CREATE INDEX cards_holder ON cards (holder_uuid);

CREATE TABLE certificates (
    card_serial    TEXT NOT NULL REFERENCES cards (card_serial) DEFERRABLE INITIALLY DEFERRED,
    purpose        TEXT NOT NULL,
    serial_number  TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    not_before     TEXT NOT NULL,
    not_after      TEXT NOT NULL,
    hash_algorithm TEXT NOT NULL,
    PRIMARY KEY (card_serial, purpose, serial_number)
) WITHOUT ROWID;
CREATE INDEX certificates_not_after ON certificates (not_after);

CREATE TABLE positions (
    holder_uuid    TEXT NOT NULL REFERENCES people (uuid) DEFERRABLE INITIALLY DEFERRED,
    ods_code       TEXT NOT NULL REFERENCES organisations (ods_code) DEFERRABLE INITIALLY DEFERRED,
    role_code      TEXT NOT NULL,
    role_name      TEXT,
    activity_codes TEXT,
    status         TEXT NOT NULL,
    approved_on    TEXT,
    PRIMARY KEY (holder_uuid, ods_code, role_code)
) WITHOUT ROWID;

CREATE TABLE workstations (
    hostname    TEXT PRIMARY KEY,
    site_ods    TEXT NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    os          TEXT,
    os_build    TEXT,
    update_ring TEXT NOT NULL,
    last_seen   TEXT
) WITHOUT ROWID;
CREATE INDEX workstations_site ON workstations (site_ods);

CREATE TABLE software (
    hostname  TEXT NOT NULL REFERENCES workstations (hostname) DEFERRABLE INITIALLY DEFERRED,
    component TEXT NOT NULL,
    version   TEXT NOT NULL,
    PRIMARY KEY (hostname, component)
) WITHOUT ROWID;

CREATE TABLE readers (
    reader_serial TEXT PRIMARY KEY,
    vendor        TEXT NOT NULL,
    model         TEXT NOT NULL,
    firmware      TEXT,
    hostname      TEXT REFERENCES workstations (hostname) DEFERRABLE INITIALLY DEFERRED,
    site_ods      TEXT NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    status        TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE stock (
    site_ods TEXT NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    item     TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    minimum  INTEGER NOT NULL,
    PRIMARY KEY (site_ods, item)
) WITHOUT ROWID;

-- The audit chain. `at` is unix seconds; hashes are hex SHA-256 (see core::audit).
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    note        TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

-- The newest record written, so that deleting the newest records is also detected.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
