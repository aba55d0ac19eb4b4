-- The reports' machine counts (issue 26): for each site, each version of each smartcard software
-- component, each Windows build (component `windows`) and each reader model's firmware
-- (`reader VENDOR MODEL`), and each update ring, how many workstations have it. Kept by triggers
-- in the transaction that changes the estate, so the reports read these few thousand rows after
-- a change instead of grouping every workstation, its software and its readers
-- (store::reports::site_machines). `source` is the table the version comes from (`software`,
-- `workstations` for the Windows build, `readers`): a bulk load recounts its own table's rows only
-- (store::reports::recount). No count is kept at zero.
CREATE TABLE site_machine_counts (
    site_ods    TEXT COLLATE "C" NOT NULL,
    source      TEXT COLLATE "C" NOT NULL,
    component   TEXT COLLATE "C" NOT NULL,
    version     TEXT COLLATE "C" NOT NULL,
    update_ring TEXT COLLATE "C" NOT NULL,
    machines    BIGINT NOT NULL,
    PRIMARY KEY (site_ods, source, component, version, update_ring)
);

-- Each workstation's readers of one model and firmware: a workstation with two is one machine
-- on that firmware, so a reader added or removed changes its site's count only when it is the
-- workstation's first or last of them. Readers with no workstation or no firmware are not held.
CREATE TABLE machine_readers (
    hostname  TEXT COLLATE "C" NOT NULL,
    component TEXT COLLATE "C" NOT NULL,
    version   TEXT COLLATE "C" NOT NULL,
    readers   BIGINT NOT NULL,
    PRIMARY KEY (hostname, component, version)
);

INSERT INTO machine_readers (hostname, component, version, readers)
    SELECT hostname, 'reader ' || vendor || ' ' || model, firmware, COUNT(*) FROM readers
    WHERE hostname IS NOT NULL AND firmware IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
    SELECT site_ods, 'workstations', 'windows', os_build, update_ring, COUNT(*) FROM workstations
    WHERE os_build IS NOT NULL GROUP BY site_ods, os_build, update_ring;
INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
    SELECT w.site_ods, 'software', s.component, s.version, w.update_ring, COUNT(*)
    FROM software s JOIN workstations w ON w.hostname = s.hostname
    GROUP BY w.site_ods, s.component, s.version, w.update_ring;
INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
    SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring, COUNT(*)
    FROM machine_readers m JOIN workstations w ON w.hostname = m.hostname
    GROUP BY w.site_ods, m.component, m.version, w.update_ring;

-- Rows added and removed are counted by statement triggers over the rows a statement changed
-- (transition tables), one grouped upsert per statement; a row changed by a row trigger that runs
-- only when what is counted changes (not on a workstation's last contact). Every change adds to
-- a count by upsert (a count taken down exists already), then removes the counts at the sites it
-- took down that reached zero. ENABLE ALWAYS: the bulk load runs with session_replication_role =
-- replica, under which ordinary triggers do not fire.

-- Adds `delta` to one count, removing it at zero.
CREATE FUNCTION site_machine_counts_add(site TEXT, src TEXT, comp TEXT, ver TEXT, ring TEXT,
                                        delta BIGINT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
        VALUES (site, src, comp, ver, ring, delta)
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = c.machines + EXCLUDED.machines;
    DELETE FROM site_machine_counts
        WHERE site_ods = site AND source = src AND component = comp AND version = ver
          AND update_ring = ring AND machines = 0;
$$;

-- Workstations added (+1) or removed (-1): each counts its Windows build, its software and its
-- readers at its site and ring.
CREATE FUNCTION workstations_machines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
            SELECT site_ods, source, component, version, update_ring, COUNT(*) FROM (
                SELECT w.site_ods, 'workstations' AS source, 'windows' AS component,
                       w.os_build AS version, w.update_ring
                FROM added w WHERE w.os_build IS NOT NULL
                UNION ALL SELECT w.site_ods, 'software', s.component, s.version, w.update_ring
                FROM added w JOIN software s ON s.hostname = w.hostname
                UNION ALL SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring
                FROM added w JOIN machine_readers m ON m.hostname = w.hostname
            ) AS v GROUP BY site_ods, source, component, version, update_ring
            ON CONFLICT (site_ods, source, component, version, update_ring)
            DO UPDATE SET machines = c.machines + EXCLUDED.machines;
    ELSE
        INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
            SELECT site_ods, source, component, version, update_ring, -COUNT(*) FROM (
                SELECT w.site_ods, 'workstations' AS source, 'windows' AS component,
                       w.os_build AS version, w.update_ring
                FROM removed w WHERE w.os_build IS NOT NULL
                UNION ALL SELECT w.site_ods, 'software', s.component, s.version, w.update_ring
                FROM removed w JOIN software s ON s.hostname = w.hostname
                UNION ALL SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring
                FROM removed w JOIN machine_readers m ON m.hostname = w.hostname
            ) AS v GROUP BY site_ods, source, component, version, update_ring
            ON CONFLICT (site_ods, source, component, version, update_ring)
            DO UPDATE SET machines = c.machines + EXCLUDED.machines;
        DELETE FROM site_machine_counts
            WHERE machines = 0 AND site_ods IN (SELECT site_ods FROM removed);
    END IF;
    RETURN NULL;
END
$$;

-- A workstation whose site, ring, build (or hostname) changed: what it counted taken off where
-- it was, counted where it is.
CREATE FUNCTION workstations_machines_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
        SELECT site_ods, source, component, version, update_ring, SUM(n) FROM (
            SELECT OLD.site_ods AS site_ods, 'workstations' AS source, 'windows' AS component,
                   OLD.os_build AS version, OLD.update_ring AS update_ring, -1 AS n
            WHERE OLD.os_build IS NOT NULL
            UNION ALL SELECT OLD.site_ods, 'software', s.component, s.version, OLD.update_ring, -1
            FROM software s WHERE s.hostname = OLD.hostname
            UNION ALL SELECT OLD.site_ods, 'readers', m.component, m.version, OLD.update_ring, -1
            FROM machine_readers m WHERE m.hostname = OLD.hostname
            UNION ALL SELECT NEW.site_ods, 'workstations', 'windows', NEW.os_build, NEW.update_ring, 1
            WHERE NEW.os_build IS NOT NULL
            UNION ALL SELECT NEW.site_ods, 'software', s.component, s.version, NEW.update_ring, 1
            FROM software s WHERE s.hostname = NEW.hostname
            UNION ALL SELECT NEW.site_ods, 'readers', m.component, m.version, NEW.update_ring, 1
            FROM machine_readers m WHERE m.hostname = NEW.hostname
        ) AS v GROUP BY site_ods, source, component, version, update_ring HAVING SUM(n) <> 0
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = c.machines + EXCLUDED.machines;
    DELETE FROM site_machine_counts WHERE site_ods = OLD.site_ods AND machines = 0;
    RETURN NULL;
END
$$;

-- Software added (+1) or removed (-1) at its workstation's site and ring (none while the
-- workstation is not there: it counts its software when it comes).
CREATE FUNCTION software_machines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
            SELECT w.site_ods, 'software', s.component, s.version, w.update_ring, COUNT(*)
            FROM added s JOIN workstations w ON w.hostname = s.hostname
            GROUP BY w.site_ods, s.component, s.version, w.update_ring
            ON CONFLICT (site_ods, source, component, version, update_ring)
            DO UPDATE SET machines = c.machines + EXCLUDED.machines;
    ELSE
        INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
            SELECT w.site_ods, 'software', s.component, s.version, w.update_ring, -COUNT(*)
            FROM removed s JOIN workstations w ON w.hostname = s.hostname
            GROUP BY w.site_ods, s.component, s.version, w.update_ring
            ON CONFLICT (site_ods, source, component, version, update_ring)
            DO UPDATE SET machines = c.machines + EXCLUDED.machines;
        DELETE FROM site_machine_counts WHERE machines = 0 AND site_ods IN
            (SELECT w.site_ods FROM removed s JOIN workstations w ON w.hostname = s.hostname);
    END IF;
    RETURN NULL;
END
$$;

-- A component's version, or its workstation, changed.
CREATE FUNCTION software_machines_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM site_machine_counts_add(w.site_ods, 'software', OLD.component, OLD.version,
                                    w.update_ring, -1)
        FROM workstations w WHERE w.hostname = OLD.hostname;
    PERFORM site_machine_counts_add(w.site_ods, 'software', NEW.component, NEW.version,
                                    w.update_ring, 1)
        FROM workstations w WHERE w.hostname = NEW.hostname;
    RETURN NULL;
END
$$;

-- Readers added or removed: each workstation's readers of a model and firmware kept in
-- machine_readers, and the workstation counted at its site and ring where the statement gave it
-- its first of them (the count it holds is what the statement added), or took its last.
CREATE FUNCTION readers_machines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH a AS (
            SELECT hostname, 'reader ' || vendor || ' ' || model AS component,
                   firmware AS version, COUNT(*) AS n
            FROM added WHERE hostname IS NOT NULL AND firmware IS NOT NULL GROUP BY 1, 2, 3
        ), held AS (
            INSERT INTO machine_readers AS m (hostname, component, version, readers)
                SELECT hostname, component, version, n FROM a
                ON CONFLICT (hostname, component, version)
                DO UPDATE SET readers = m.readers + EXCLUDED.readers
                RETURNING m.hostname, m.component, m.version, m.readers
        )
        INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
            SELECT w.site_ods, 'readers', h.component, h.version, w.update_ring, COUNT(*)
            FROM held h
            JOIN a ON a.hostname = h.hostname AND a.component = h.component AND a.version = h.version
            JOIN workstations w ON w.hostname = h.hostname
            WHERE h.readers = a.n
            GROUP BY w.site_ods, h.component, h.version, w.update_ring
            ON CONFLICT (site_ods, source, component, version, update_ring)
            DO UPDATE SET machines = c.machines + EXCLUDED.machines;
    ELSE
        WITH r AS (
            SELECT hostname, 'reader ' || vendor || ' ' || model AS component,
                   firmware AS version, COUNT(*) AS n
            FROM removed WHERE hostname IS NOT NULL AND firmware IS NOT NULL GROUP BY 1, 2, 3
        ), held AS (
            UPDATE machine_readers AS m SET readers = m.readers - r.n FROM r
                WHERE m.hostname = r.hostname AND m.component = r.component
                  AND m.version = r.version
                RETURNING m.hostname, m.component, m.version, m.readers
        )
        INSERT INTO site_machine_counts AS c (site_ods, source, component, version, update_ring, machines)
            SELECT w.site_ods, 'readers', h.component, h.version, w.update_ring, -COUNT(*)
            FROM held h JOIN workstations w ON w.hostname = h.hostname
            WHERE h.readers = 0
            GROUP BY w.site_ods, h.component, h.version, w.update_ring
            ON CONFLICT (site_ods, source, component, version, update_ring)
            DO UPDATE SET machines = c.machines + EXCLUDED.machines;
        DELETE FROM machine_readers
            WHERE readers = 0 AND hostname IN (SELECT hostname FROM removed);
        DELETE FROM site_machine_counts WHERE machines = 0 AND site_ods IN
            (SELECT w.site_ods FROM removed r JOIN workstations w ON w.hostname = r.hostname);
    END IF;
    RETURN NULL;
END
$$;

-- A reader's workstation, model or firmware changed: taken off what it was, counted as what it
-- is. Each reader's change to machine_readers is one atomic step, so the readers a statement
-- changes together are counted right in whatever order their triggers run.
CREATE FUNCTION readers_machines_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    left_over BIGINT;
    now_held BIGINT;
BEGIN
    IF OLD.hostname IS NOT NULL AND OLD.firmware IS NOT NULL THEN
        UPDATE machine_readers SET readers = readers - 1
            WHERE hostname = OLD.hostname
              AND component = 'reader ' || OLD.vendor || ' ' || OLD.model
              AND version = OLD.firmware
            RETURNING readers INTO left_over;
        IF left_over = 0 THEN
            DELETE FROM machine_readers
                WHERE hostname = OLD.hostname
                  AND component = 'reader ' || OLD.vendor || ' ' || OLD.model
                  AND version = OLD.firmware;
            PERFORM site_machine_counts_add(w.site_ods, 'readers',
                                            'reader ' || OLD.vendor || ' ' || OLD.model,
                                            OLD.firmware, w.update_ring, -1)
                FROM workstations w WHERE w.hostname = OLD.hostname;
        END IF;
    END IF;
    IF NEW.hostname IS NOT NULL AND NEW.firmware IS NOT NULL THEN
        INSERT INTO machine_readers AS m (hostname, component, version, readers)
            VALUES (NEW.hostname, 'reader ' || NEW.vendor || ' ' || NEW.model, NEW.firmware, 1)
            ON CONFLICT (hostname, component, version) DO UPDATE SET readers = m.readers + 1
            RETURNING m.readers INTO now_held;
        IF now_held = 1 THEN
            PERFORM site_machine_counts_add(w.site_ods, 'readers',
                                            'reader ' || NEW.vendor || ' ' || NEW.model,
                                            NEW.firmware, w.update_ring, 1)
                FROM workstations w WHERE w.hostname = NEW.hostname;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER workstations_machines_counted AFTER INSERT ON workstations
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION workstations_machines();
CREATE TRIGGER workstations_machines_uncounted AFTER DELETE ON workstations
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION workstations_machines();
CREATE TRIGGER workstations_machines_recounted
    AFTER UPDATE OF hostname, site_ods, update_ring, os_build ON workstations FOR EACH ROW
    WHEN (OLD.hostname IS DISTINCT FROM NEW.hostname OR OLD.site_ods IS DISTINCT FROM NEW.site_ods
          OR OLD.update_ring IS DISTINCT FROM NEW.update_ring
          OR OLD.os_build IS DISTINCT FROM NEW.os_build)
    EXECUTE FUNCTION workstations_machines_moved();
ALTER TABLE workstations ENABLE ALWAYS TRIGGER workstations_machines_counted;
ALTER TABLE workstations ENABLE ALWAYS TRIGGER workstations_machines_uncounted;
ALTER TABLE workstations ENABLE ALWAYS TRIGGER workstations_machines_recounted;

CREATE TRIGGER software_machines_counted AFTER INSERT ON software
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION software_machines();
CREATE TRIGGER software_machines_uncounted AFTER DELETE ON software
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION software_machines();
CREATE TRIGGER software_machines_recounted
    AFTER UPDATE OF hostname, component, version ON software FOR EACH ROW
    WHEN (OLD.hostname IS DISTINCT FROM NEW.hostname OR OLD.component IS DISTINCT FROM NEW.component
          OR OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION software_machines_moved();
ALTER TABLE software ENABLE ALWAYS TRIGGER software_machines_counted;
ALTER TABLE software ENABLE ALWAYS TRIGGER software_machines_uncounted;
ALTER TABLE software ENABLE ALWAYS TRIGGER software_machines_recounted;

CREATE TRIGGER readers_machines_counted AFTER INSERT ON readers
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION readers_machines();
CREATE TRIGGER readers_machines_uncounted AFTER DELETE ON readers
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION readers_machines();
CREATE TRIGGER readers_machines_recounted
    AFTER UPDATE OF hostname, vendor, model, firmware ON readers FOR EACH ROW
    WHEN (OLD.hostname IS DISTINCT FROM NEW.hostname OR OLD.vendor IS DISTINCT FROM NEW.vendor
          OR OLD.model IS DISTINCT FROM NEW.model OR OLD.firmware IS DISTINCT FROM NEW.firmware)
    EXECUTE FUNCTION readers_machines_moved();
ALTER TABLE readers ENABLE ALWAYS TRIGGER readers_machines_counted;
ALTER TABLE readers ENABLE ALWAYS TRIGGER readers_machines_uncounted;
ALTER TABLE readers ENABLE ALWAYS TRIGGER readers_machines_recounted;
