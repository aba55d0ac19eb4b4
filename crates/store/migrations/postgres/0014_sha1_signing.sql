-- The cards holding a SHA-1 signing certificate, found without reading every certificate:
-- with `certificates_not_after`, the certificate rules read only the cards they can judge.
-- The condition matches the query's own words (`cards_with_certificates_due`), or the
-- planner cannot use the index.
CREATE INDEX certificates_sha1_signing ON certificates (card_serial)
    WHERE purpose = 'signing' AND hash_algorithm = 'sha1';
