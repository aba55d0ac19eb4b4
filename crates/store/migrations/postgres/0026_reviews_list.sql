-- The access reviews list (issue 26): each position's newest decision is read from the end of
-- the decisions' key, compared with the position's own key. The decisions' text was compared
-- in the database's default collation and the positions' in "C" (byte by byte, as SQLite
-- does): an index of one collation serves no comparison in the other, so every position's
-- lookup read every decision. Compared byte by byte, like the rest of the schema, the key
-- (holder_uuid, ods_code, role_code, decided_at) serves the lookup, rebuilt in that collation.
-- The list walks people_site_name_list (migration 0020) and each holder's positions by their
-- key (store::reviews::reviews_page): no other index is needed.
ALTER TABLE access_reviews
    ALTER COLUMN holder_uuid TYPE TEXT COLLATE "C",
    ALTER COLUMN ods_code TYPE TEXT COLLATE "C",
    ALTER COLUMN role_code TYPE TEXT COLLATE "C",
    ALTER COLUMN reviewer TYPE TEXT COLLATE "C",
    ALTER COLUMN decision TYPE TEXT COLLATE "C",
    ALTER COLUMN reason TYPE TEXT COLLATE "C";
