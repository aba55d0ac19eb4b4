-- Integration profiles: services that act with a practice's smartcards, what their cards need,
-- and both sides of each identifier the service checks at synchronisation (issue 2's
-- integration profiles; the readiness rules of issue 3).

CREATE TABLE integrations (
    integration              TEXT COLLATE "C" PRIMARY KEY,
    service                  TEXT COLLATE "C" NOT NULL,
    site_ods                 TEXT COLLATE "C" NOT NULL REFERENCES sites (site_ods) DEFERRABLE INITIALLY DEFERRED,
    clinical_system          TEXT COLLATE "C" NOT NULL,
    required_roles           TEXT COLLATE "C",
    required_activity_codes  TEXT COLLATE "C",
    emis_cdb                 TEXT COLLATE "C",
    service_emis_cdb         TEXT COLLATE "C",
    systmone_profile         TEXT COLLATE "C",
    service_systmone_profile TEXT COLLATE "C"
);
CREATE INDEX integrations_site ON integrations (site_ods);

CREATE TABLE integration_cards (
    integration   TEXT COLLATE "C" NOT NULL REFERENCES integrations (integration) DEFERRABLE INITIALLY DEFERRED,
    card_serial   TEXT COLLATE "C" NOT NULL REFERENCES cards (card_serial) DEFERRABLE INITIALLY DEFERRED,
    emis_username TEXT COLLATE "C",
    PRIMARY KEY (integration, card_serial)
);
CREATE INDEX integration_cards_card ON integration_cards (card_serial);
