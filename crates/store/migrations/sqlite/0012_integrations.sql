-- Integration profiles: services that act with a practice's smartcards, what their cards need,
-- and both sides of each identifier the service checks at synchronisation (issue 2's
-- integration profiles; the readiness rules of issue 3).

CREATE TABLE integrations (
    integration              TEXT PRIMARY KEY,
    service                  TEXT NOT NULL,
    site_ods                 TEXT NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    clinical_system          TEXT NOT NULL,
    required_roles           TEXT,
    required_activity_codes  TEXT,
    emis_cdb                 TEXT,
    service_emis_cdb         TEXT,
    systmone_profile         TEXT,
    service_systmone_profile TEXT
) WITHOUT ROWID;
CREATE INDEX integrations_site ON integrations (site_ods);

CREATE TABLE integration_cards (
    integration   TEXT NOT NULL REFERENCES integrations (integration) DEFERRABLE INITIALLY DEFERRED,
    card_serial   TEXT NOT NULL REFERENCES cards (card_serial) DEFERRABLE INITIALLY DEFERRED,
    emis_username TEXT,
    PRIMARY KEY (integration, card_serial)
) WITHOUT ROWID;
CREATE INDEX integration_cards_card ON integration_cards (card_serial);
