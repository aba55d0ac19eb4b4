-- The estate, one table per import kind; columns named as in the CSV contract (docs/IMPORT.md).
-- Typed columns: DATE, TIMESTAMPTZ, BOOLEAN, BIGINT.
-- Text is compared byte by byte (COLLATE "C"), as SQLite does, so both export in one order.

CREATE TABLE organisations (
    ods_code   TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    "type"     TEXT COLLATE "C" NOT NULL,
    parent_ods TEXT COLLATE "C" REFERENCES organisations (ods_code) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE sites (
    site_ods         TEXT COLLATE "C" PRIMARY KEY,
    organisation_ods TEXT COLLATE "C" NOT NULL REFERENCES organisations (ods_code) DEFERRABLE INITIALLY DEFERRED,
    name             TEXT COLLATE "C" NOT NULL,
    core_hours       TEXT COLLATE "C"
);

CREATE TABLE people (
    uuid           TEXT COLLATE "C" PRIMARY KEY,
    name           TEXT COLLATE "C" NOT NULL,
    email          TEXT COLLATE "C",
    staff_role     TEXT COLLATE "C",
    site_ods       TEXT COLLATE "C" NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    employment_end DATE,
    local_admin    BOOLEAN NOT NULL,
    ra_roles       TEXT COLLATE "C"
);
CREATE INDEX people_site ON people (site_ods);

CREATE TABLE cards (
    card_serial  TEXT COLLATE "C" PRIMARY KEY,
    holder_uuid  TEXT COLLATE "C" NOT NULL REFERENCES people (uuid) DEFERRABLE INITIALLY DEFERRED,
    series       BIGINT NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    issued_on    DATE NOT NULL,
    last_used_on DATE
);
CREATE INDEX cards_holder ON cards (holder_uuid);

CREATE TABLE certificates (
    card_serial    TEXT COLLATE "C" NOT NULL REFERENCES cards (card_serial) DEFERRABLE INITIALLY DEFERRED,
    purpose        TEXT COLLATE "C" NOT NULL,
    serial_number  TEXT COLLATE "C" NOT NULL,
    issuer         TEXT COLLATE "C" NOT NULL,
    not_before     DATE NOT NULL,
    not_after      DATE NOT NULL,
    hash_algorithm TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (card_serial, purpose, serial_number)
);
CREATE INDEX certificates_not_after ON certificates (not_after);

CREATE TABLE positions (
    holder_uuid    TEXT COLLATE "C" NOT NULL REFERENCES people (uuid) DEFERRABLE INITIALLY DEFERRED,
    ods_code       TEXT COLLATE "C" NOT NULL REFERENCES organisations (ods_code) DEFERRABLE INITIALLY DEFERRED,
    role_code      TEXT COLLATE "C" NOT NULL,
    role_name      TEXT COLLATE "C",
    activity_codes TEXT COLLATE "C",
    status         TEXT COLLATE "C" NOT NULL,
    approved_on    DATE,
    PRIMARY KEY (holder_uuid, ods_code, role_code)
);

CREATE TABLE workstations (
    hostname    TEXT COLLATE "C" PRIMARY KEY,
    site_ods    TEXT COLLATE "C" NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    os          TEXT COLLATE "C",
    os_build    TEXT COLLATE "C",
    update_ring TEXT COLLATE "C" NOT NULL,
    last_seen   TIMESTAMPTZ
);
CREATE INDEX workstations_site ON workstations (site_ods);

CREATE TABLE software (
    hostname  TEXT COLLATE "C" NOT NULL REFERENCES workstations (hostname) DEFERRABLE INITIALLY DEFERRED,
    component TEXT COLLATE "C" NOT NULL,
    version   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (hostname, component)
);

CREATE TABLE readers (
    reader_serial TEXT COLLATE "C" PRIMARY KEY,
    vendor        TEXT COLLATE "C" NOT NULL,
    model         TEXT COLLATE "C" NOT NULL,
    firmware      TEXT COLLATE "C",
    hostname      TEXT COLLATE "C" REFERENCES workstations (hostname) DEFERRABLE INITIALLY DEFERRED,
    site_ods      TEXT COLLATE "C" NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    status        TEXT COLLATE "C" NOT NULL
);

CREATE TABLE stock (
    site_ods TEXT COLLATE "C" NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    item     TEXT COLLATE "C" NOT NULL,
    quantity BIGINT NOT NULL,
    minimum  BIGINT NOT NULL,
    PRIMARY KEY (site_ods, item)
);

-- The audit chain. `at` is unix seconds; hashes are hex SHA-256 (see core::audit).
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT COLLATE "C" NOT NULL,
    action      TEXT COLLATE "C" NOT NULL,
    entity_kind TEXT COLLATE "C" NOT NULL,
    entity_key  TEXT COLLATE "C" NOT NULL,
    note        TEXT COLLATE "C" NOT NULL,
    before      TEXT COLLATE "C",
    after       TEXT COLLATE "C",
    prev_hash   TEXT COLLATE "C" NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL
);

-- The newest record written, so that deleting the newest records is also detected.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT COLLATE "C" NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
