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

-- How many records of each listed kind each site holds (an organisation counts at its own code),
-- kept by triggers in the transaction that changes them, so a list's total is a sum over a few
-- rows instead of a count over a million.
CREATE TABLE list_counts (
    kind     TEXT NOT NULL,
    site_ods TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (kind, site_ods)
) WITHOUT ROWID;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'organisations', ods_code, COUNT(*) FROM organisations GROUP BY ods_code;
CREATE TRIGGER organisations_counted AFTER INSERT ON organisations BEGIN
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('organisations', NEW.ods_code, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER organisations_uncounted AFTER DELETE ON organisations BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'organisations' AND site_ods = OLD.ods_code;
END;
CREATE TRIGGER organisations_recounted AFTER UPDATE OF ods_code ON organisations WHEN OLD.ods_code IS NOT NEW.ods_code BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'organisations' AND site_ods = OLD.ods_code;
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('organisations', NEW.ods_code, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'sites', site_ods, COUNT(*) FROM sites GROUP BY site_ods;
CREATE TRIGGER sites_counted AFTER INSERT ON sites BEGIN
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('sites', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER sites_uncounted AFTER DELETE ON sites BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'sites' AND site_ods = OLD.site_ods;
END;
CREATE TRIGGER sites_recounted AFTER UPDATE OF site_ods ON sites WHEN OLD.site_ods IS NOT NEW.site_ods BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'sites' AND site_ods = OLD.site_ods;
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('sites', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'people', site_ods, COUNT(*) FROM people GROUP BY site_ods;
CREATE TRIGGER people_counted AFTER INSERT ON people BEGIN
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('people', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER people_uncounted AFTER DELETE ON people BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'people' AND site_ods = OLD.site_ods;
END;
CREATE TRIGGER people_recounted AFTER UPDATE OF site_ods ON people WHEN OLD.site_ods IS NOT NEW.site_ods BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'people' AND site_ods = OLD.site_ods;
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('people', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'workstations', site_ods, COUNT(*) FROM workstations GROUP BY site_ods;
CREATE TRIGGER workstations_counted AFTER INSERT ON workstations BEGIN
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('workstations', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER workstations_uncounted AFTER DELETE ON workstations BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'workstations' AND site_ods = OLD.site_ods;
END;
CREATE TRIGGER workstations_recounted AFTER UPDATE OF site_ods ON workstations WHEN OLD.site_ods IS NOT NEW.site_ods BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'workstations' AND site_ods = OLD.site_ods;
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('workstations', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'readers', site_ods, COUNT(*) FROM readers GROUP BY site_ods;
CREATE TRIGGER readers_counted AFTER INSERT ON readers BEGIN
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('readers', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER readers_uncounted AFTER DELETE ON readers BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'readers' AND site_ods = OLD.site_ods;
END;
CREATE TRIGGER readers_recounted AFTER UPDATE OF site_ods ON readers WHEN OLD.site_ods IS NOT NEW.site_ods BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'readers' AND site_ods = OLD.site_ods;
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('readers', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'stock', site_ods, COUNT(*) FROM stock GROUP BY site_ods;
CREATE TRIGGER stock_counted AFTER INSERT ON stock BEGIN
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('stock', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stock_uncounted AFTER DELETE ON stock BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'stock' AND site_ods = OLD.site_ods;
END;
CREATE TRIGGER stock_recounted AFTER UPDATE OF site_ods ON stock WHEN OLD.site_ods IS NOT NEW.site_ods BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'stock' AND site_ods = OLD.site_ods;
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('stock', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;

INSERT INTO list_counts (kind, site_ods, n) SELECT 'integrations', site_ods, COUNT(*) FROM integrations GROUP BY site_ods;
CREATE TRIGGER integrations_counted AFTER INSERT ON integrations BEGIN
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('integrations', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER integrations_uncounted AFTER DELETE ON integrations BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'integrations' AND site_ods = OLD.site_ods;
END;
CREATE TRIGGER integrations_recounted AFTER UPDATE OF site_ods ON integrations WHEN OLD.site_ods IS NOT NEW.site_ods BEGIN
    UPDATE list_counts SET n = n - 1 WHERE kind = 'integrations' AND site_ods = OLD.site_ods;
    INSERT INTO list_counts (kind, site_ods, n) VALUES ('integrations', NEW.site_ods, 1)
        ON CONFLICT (kind, site_ods) DO UPDATE SET n = n + 1;
END;
