-- The estate's lists at national scale (issue 26): one page of a kind is read by keyset, the
-- next page continuing after the last row's (sort column, key), so every sortable column has an
-- index in (column, key) order; the filter matches the start of a few columns, case-insensitively,
-- through an index on each column's lower case. The columns are those of store::lists::LISTED.

-- Sort orders (the key's own order is its primary key's).
CREATE INDEX organisations_name_list ON organisations (name, ods_code);
CREATE INDEX organisations_type_list ON organisations ("type", ods_code);
CREATE INDEX sites_organisation_list ON sites (organisation_ods, site_ods);
CREATE INDEX sites_name_list ON sites (name, site_ods);
CREATE INDEX people_name_list ON people (name, uuid);
-- A practice's people by name, without sorting them.
CREATE INDEX people_site_name_list ON people (site_ods, name, uuid);
CREATE INDEX workstations_ring_list ON workstations (update_ring, hostname);
CREATE INDEX readers_site_list ON readers (site_ods, reader_serial);
CREATE INDEX readers_model_list ON readers (model, reader_serial);
CREATE INDEX readers_status_list ON readers (status, reader_serial);
CREATE INDEX stock_item_list ON stock (item, site_ods);
CREATE INDEX integrations_service_list ON integrations (service, integration);
CREATE INDEX integrations_system_list ON integrations (clinical_system, integration);

-- The filter: the start of these columns, in lower case.
CREATE INDEX organisations_code_lower ON organisations (lower(ods_code));
CREATE INDEX organisations_name_lower ON organisations (lower(name));
CREATE INDEX sites_code_lower ON sites (lower(site_ods));
CREATE INDEX sites_name_lower ON sites (lower(name));
CREATE INDEX people_uuid_lower ON people (lower(uuid));
CREATE INDEX people_name_lower ON people (lower(name));
CREATE INDEX workstations_hostname_lower ON workstations (lower(hostname));
CREATE INDEX readers_serial_lower ON readers (lower(reader_serial));
CREATE INDEX readers_model_lower ON readers (lower(model));
CREATE INDEX stock_item_lower ON stock (lower(item));
CREATE INDEX stock_site_lower ON stock (lower(site_ods));
CREATE INDEX integrations_id_lower ON integrations (lower(integration));
CREATE INDEX integrations_service_lower ON integrations (lower(service));

-- PostgreSQL's index on a site alone does not keep its rows in key order (SQLite's, on a table
-- without rowid, ends in the key): a site's records in key order.
CREATE INDEX people_site_list ON people (site_ods, uuid);
CREATE INDEX workstations_site_list ON workstations (site_ods, hostname);
CREATE INDEX integrations_site_list ON integrations (site_ods, integration);

-- How many records of each listed kind each site holds (an organisation counts at its own code),
-- kept by triggers in the transaction that changes them, so a list's total is a sum over a few
-- rows instead of a count over a million.
-- Rows added and removed are counted by statement triggers over the rows a statement changed
-- (transition tables), so a bulk COPY of a million rows adds one grouped update, not a million; a
-- row moving site by a row trigger that runs only when its site changes (a statement trigger
-- would run on every update, a workstation's last contact too). ENABLE ALWAYS: the bulk load
-- runs with session_replication_role = replica, under which ordinary triggers do not fire.
CREATE TABLE list_counts (
    kind     TEXT COLLATE "C" NOT NULL,
    site_ods TEXT COLLATE "C" NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (kind, site_ods)
);

-- Counts the rows a statement added (+1) or removed (-1) at their site_ods.
CREATE FUNCTION list_count_sites() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO list_counts AS c (kind, site_ods, n)
            SELECT TG_TABLE_NAME, site_ods, COUNT(*) FROM added GROUP BY site_ods
            ON CONFLICT (kind, site_ods) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        UPDATE list_counts AS c SET n = c.n - r.n
            FROM (SELECT site_ods AS site, COUNT(*) AS n FROM removed GROUP BY site_ods) AS r
            WHERE c.kind = TG_TABLE_NAME AND c.site_ods = r.site;
    END IF;
    RETURN NULL;
END
$$;

-- Moves one row's count from its old site_ods to its new one.
CREATE FUNCTION list_count_sites_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = TG_TABLE_NAME AND site_ods = OLD.site_ods;
    INSERT INTO list_counts AS c (kind, site_ods, n) VALUES (TG_TABLE_NAME, NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END
$$;

-- Counts the rows a statement added (+1) or removed (-1) at their ods_code.
CREATE FUNCTION list_count_codes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO list_counts AS c (kind, site_ods, n)
            SELECT TG_TABLE_NAME, ods_code, COUNT(*) FROM added GROUP BY ods_code
            ON CONFLICT (kind, site_ods) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        UPDATE list_counts AS c SET n = c.n - r.n
            FROM (SELECT ods_code AS site, COUNT(*) AS n FROM removed GROUP BY ods_code) AS r
            WHERE c.kind = TG_TABLE_NAME AND c.site_ods = r.site;
    END IF;
    RETURN NULL;
END
$$;

-- Moves one row's count from its old ods_code to its new one.
CREATE FUNCTION list_count_codes_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = TG_TABLE_NAME AND site_ods = OLD.ods_code;
    INSERT INTO list_counts AS c (kind, site_ods, n) VALUES (TG_TABLE_NAME, NEW.ods_code, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END
$$;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'organisations', ods_code, COUNT(*) FROM organisations GROUP BY ods_code;
CREATE TRIGGER organisations_counted AFTER INSERT ON organisations REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_codes();
CREATE TRIGGER organisations_uncounted AFTER DELETE ON organisations REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_codes();
CREATE TRIGGER organisations_recounted AFTER UPDATE OF ods_code ON organisations
    FOR EACH ROW WHEN (OLD.ods_code IS DISTINCT FROM NEW.ods_code) EXECUTE FUNCTION list_count_codes_moved();
ALTER TABLE organisations ENABLE ALWAYS TRIGGER organisations_counted;
ALTER TABLE organisations ENABLE ALWAYS TRIGGER organisations_uncounted;
ALTER TABLE organisations ENABLE ALWAYS TRIGGER organisations_recounted;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'sites', site_ods, COUNT(*) FROM sites GROUP BY site_ods;
CREATE TRIGGER sites_counted AFTER INSERT ON sites REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER sites_uncounted AFTER DELETE ON sites REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER sites_recounted AFTER UPDATE OF site_ods ON sites
    FOR EACH ROW WHEN (OLD.site_ods IS DISTINCT FROM NEW.site_ods) EXECUTE FUNCTION list_count_sites_moved();
ALTER TABLE sites ENABLE ALWAYS TRIGGER sites_counted;
ALTER TABLE sites ENABLE ALWAYS TRIGGER sites_uncounted;
ALTER TABLE sites ENABLE ALWAYS TRIGGER sites_recounted;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'people', site_ods, COUNT(*) FROM people GROUP BY site_ods;
CREATE TRIGGER people_counted AFTER INSERT ON people REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER people_uncounted AFTER DELETE ON people REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER people_recounted AFTER UPDATE OF site_ods ON people
    FOR EACH ROW WHEN (OLD.site_ods IS DISTINCT FROM NEW.site_ods) EXECUTE FUNCTION list_count_sites_moved();
ALTER TABLE people ENABLE ALWAYS TRIGGER people_counted;
ALTER TABLE people ENABLE ALWAYS TRIGGER people_uncounted;
ALTER TABLE people ENABLE ALWAYS TRIGGER people_recounted;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'workstations', site_ods, COUNT(*) FROM workstations GROUP BY site_ods;
CREATE TRIGGER workstations_counted AFTER INSERT ON workstations REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER workstations_uncounted AFTER DELETE ON workstations REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER workstations_recounted AFTER UPDATE OF site_ods ON workstations
    FOR EACH ROW WHEN (OLD.site_ods IS DISTINCT FROM NEW.site_ods) EXECUTE FUNCTION list_count_sites_moved();
ALTER TABLE workstations ENABLE ALWAYS TRIGGER workstations_counted;
ALTER TABLE workstations ENABLE ALWAYS TRIGGER workstations_uncounted;
ALTER TABLE workstations ENABLE ALWAYS TRIGGER workstations_recounted;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'readers', site_ods, COUNT(*) FROM readers GROUP BY site_ods;
CREATE TRIGGER readers_counted AFTER INSERT ON readers REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER readers_uncounted AFTER DELETE ON readers REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER readers_recounted AFTER UPDATE OF site_ods ON readers
    FOR EACH ROW WHEN (OLD.site_ods IS DISTINCT FROM NEW.site_ods) EXECUTE FUNCTION list_count_sites_moved();
ALTER TABLE readers ENABLE ALWAYS TRIGGER readers_counted;
ALTER TABLE readers ENABLE ALWAYS TRIGGER readers_uncounted;
ALTER TABLE readers ENABLE ALWAYS TRIGGER readers_recounted;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'stock', site_ods, COUNT(*) FROM stock GROUP BY site_ods;
CREATE TRIGGER stock_counted AFTER INSERT ON stock REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER stock_uncounted AFTER DELETE ON stock REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER stock_recounted AFTER UPDATE OF site_ods ON stock
    FOR EACH ROW WHEN (OLD.site_ods IS DISTINCT FROM NEW.site_ods) EXECUTE FUNCTION list_count_sites_moved();
ALTER TABLE stock ENABLE ALWAYS TRIGGER stock_counted;
ALTER TABLE stock ENABLE ALWAYS TRIGGER stock_uncounted;
ALTER TABLE stock ENABLE ALWAYS TRIGGER stock_recounted;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'integrations', site_ods, COUNT(*) FROM integrations GROUP BY site_ods;
CREATE TRIGGER integrations_counted AFTER INSERT ON integrations REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER integrations_uncounted AFTER DELETE ON integrations REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_count_sites();
CREATE TRIGGER integrations_recounted AFTER UPDATE OF site_ods ON integrations
    FOR EACH ROW WHEN (OLD.site_ods IS DISTINCT FROM NEW.site_ods) EXECUTE FUNCTION list_count_sites_moved();
ALTER TABLE integrations ENABLE ALWAYS TRIGGER integrations_counted;
ALTER TABLE integrations ENABLE ALWAYS TRIGGER integrations_uncounted;
ALTER TABLE integrations ENABLE ALWAYS TRIGGER integrations_recounted;
