-- Access reviews (SPEC "Govern"): someone who manages positions attests that a holder keeps one,
-- or removes it; each decision kept with who, when and why.
CREATE TABLE access_reviews (
    holder_uuid TEXT NOT NULL,
    ods_code    TEXT NOT NULL,
    role_code   TEXT NOT NULL,
    decided_at  BIGINT NOT NULL,
    reviewer    TEXT NOT NULL,
    decision    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (holder_uuid, ods_code, role_code, decided_at)
);
