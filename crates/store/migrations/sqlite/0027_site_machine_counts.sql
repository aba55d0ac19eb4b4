-- The reports' machine counts (issue 26): for each site, each version of each smartcard software
-- component, each Windows build (component `windows`) and each reader model's firmware
-- (`reader VENDOR MODEL`), and each update ring, how many workstations have it. Kept by triggers
-- in the transaction that changes the estate, so the reports read these few thousand rows after
-- a change instead of grouping every workstation, its software and its readers
-- (store::reports::site_machines). `source` is the table the version comes from (`software`,
-- `workstations` for the Windows build, `readers`): a bulk load recounts its own table's rows only
-- (store::reports::recount). No count is kept at zero.
CREATE TABLE site_machine_counts (
    site_ods    TEXT NOT NULL,
    source      TEXT NOT NULL,
    component   TEXT NOT NULL,
    version     TEXT NOT NULL,
    update_ring TEXT NOT NULL,
    machines    INTEGER NOT NULL,
    PRIMARY KEY (site_ods, source, component, version, update_ring)
) WITHOUT ROWID;

-- Each workstation's readers of one model and firmware: a workstation with two is one machine
-- on that firmware, so a reader added or removed changes its site's count only when it is the
-- workstation's first or last of them. Readers with no workstation or no firmware are not held.
CREATE TABLE machine_readers (
    hostname  TEXT NOT NULL,
    component TEXT NOT NULL,
    version   TEXT NOT NULL,
    readers   INTEGER NOT NULL,
    PRIMARY KEY (hostname, component, version)
) WITHOUT ROWID;

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

-- Every change adds +1 or -1 to a count by upsert (a count taken down exists already), then
-- removes the counts at the site it took down that reached zero.

-- A workstation counts its Windows build, its software and its readers at its site and ring.
CREATE TRIGGER workstations_machines_counted AFTER INSERT ON workstations BEGIN
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT NEW.site_ods, 'workstations', 'windows', NEW.os_build, NEW.update_ring, 1
        WHERE NEW.os_build IS NOT NULL
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT NEW.site_ods, 'software', component, version, NEW.update_ring, 1
        FROM software WHERE hostname = NEW.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT NEW.site_ods, 'readers', component, version, NEW.update_ring, 1
        FROM machine_readers WHERE hostname = NEW.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
END;
CREATE TRIGGER workstations_machines_uncounted AFTER DELETE ON workstations BEGIN
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT OLD.site_ods, 'workstations', 'windows', OLD.os_build, OLD.update_ring, -1
        WHERE OLD.os_build IS NOT NULL
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT OLD.site_ods, 'software', component, version, OLD.update_ring, -1
        FROM software WHERE hostname = OLD.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT OLD.site_ods, 'readers', component, version, OLD.update_ring, -1
        FROM machine_readers WHERE hostname = OLD.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    DELETE FROM site_machine_counts WHERE site_ods = OLD.site_ods AND machines = 0;
END;
-- Only when what is counted changes, not on every update (a workstation's last contact).
CREATE TRIGGER workstations_machines_recounted
AFTER UPDATE OF hostname, site_ods, update_ring, os_build ON workstations
WHEN OLD.hostname IS NOT NEW.hostname OR OLD.site_ods IS NOT NEW.site_ods
  OR OLD.update_ring IS NOT NEW.update_ring OR OLD.os_build IS NOT NEW.os_build BEGIN
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT OLD.site_ods, 'workstations', 'windows', OLD.os_build, OLD.update_ring, -1
        WHERE OLD.os_build IS NOT NULL
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT OLD.site_ods, 'software', component, version, OLD.update_ring, -1
        FROM software WHERE hostname = OLD.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT OLD.site_ods, 'readers', component, version, OLD.update_ring, -1
        FROM machine_readers WHERE hostname = OLD.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT NEW.site_ods, 'workstations', 'windows', NEW.os_build, NEW.update_ring, 1
        WHERE NEW.os_build IS NOT NULL
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT NEW.site_ods, 'software', component, version, NEW.update_ring, 1
        FROM software WHERE hostname = NEW.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT NEW.site_ods, 'readers', component, version, NEW.update_ring, 1
        FROM machine_readers WHERE hostname = NEW.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    DELETE FROM site_machine_counts WHERE site_ods = OLD.site_ods AND machines = 0;
END;

-- A component's version counts at its workstation's site and ring (none while the workstation
-- is not there: it counts its software when it comes).
CREATE TRIGGER software_machines_counted AFTER INSERT ON software BEGIN
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT site_ods, 'software', NEW.component, NEW.version, update_ring, 1
        FROM workstations WHERE hostname = NEW.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
END;
CREATE TRIGGER software_machines_uncounted AFTER DELETE ON software BEGIN
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT site_ods, 'software', OLD.component, OLD.version, update_ring, -1
        FROM workstations WHERE hostname = OLD.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    DELETE FROM site_machine_counts WHERE machines = 0
        AND site_ods = (SELECT site_ods FROM workstations WHERE hostname = OLD.hostname);
END;
CREATE TRIGGER software_machines_recounted AFTER UPDATE OF hostname, component, version ON software
WHEN OLD.hostname IS NOT NEW.hostname OR OLD.component IS NOT NEW.component
  OR OLD.version IS NOT NEW.version BEGIN
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT site_ods, 'software', OLD.component, OLD.version, update_ring, -1
        FROM workstations WHERE hostname = OLD.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT site_ods, 'software', NEW.component, NEW.version, update_ring, 1
        FROM workstations WHERE hostname = NEW.hostname
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    DELETE FROM site_machine_counts WHERE machines = 0
        AND site_ods = (SELECT site_ods FROM workstations WHERE hostname = OLD.hostname);
END;

-- A reader counts its workstation at its site and ring when it is the workstation's first of its
-- model and firmware, and takes it off when it was the last.
CREATE TRIGGER readers_machines_counted AFTER INSERT ON readers
WHEN NEW.hostname IS NOT NULL AND NEW.firmware IS NOT NULL BEGIN
    INSERT INTO machine_readers (hostname, component, version, readers)
        VALUES (NEW.hostname, 'reader ' || NEW.vendor || ' ' || NEW.model, NEW.firmware, 1)
        ON CONFLICT (hostname, component, version) DO UPDATE SET readers = readers + 1;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring, 1
        FROM machine_readers m JOIN workstations w ON w.hostname = m.hostname
        WHERE m.hostname = NEW.hostname
          AND m.component = 'reader ' || NEW.vendor || ' ' || NEW.model
          AND m.version = NEW.firmware AND m.readers = 1
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
END;
CREATE TRIGGER readers_machines_uncounted AFTER DELETE ON readers
WHEN OLD.hostname IS NOT NULL AND OLD.firmware IS NOT NULL BEGIN
    UPDATE machine_readers SET readers = readers - 1
        WHERE hostname = OLD.hostname AND component = 'reader ' || OLD.vendor || ' ' || OLD.model
          AND version = OLD.firmware;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring, -1
        FROM machine_readers m JOIN workstations w ON w.hostname = m.hostname
        WHERE m.hostname = OLD.hostname
          AND m.component = 'reader ' || OLD.vendor || ' ' || OLD.model
          AND m.version = OLD.firmware AND m.readers = 0
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    DELETE FROM machine_readers
        WHERE hostname = OLD.hostname AND component = 'reader ' || OLD.vendor || ' ' || OLD.model
          AND version = OLD.firmware AND readers = 0;
    DELETE FROM site_machine_counts WHERE machines = 0
        AND site_ods = (SELECT site_ods FROM workstations WHERE hostname = OLD.hostname);
END;
-- The reader taken off what it was (a NULL hostname or firmware matches no count), then counted
-- as what it is.
CREATE TRIGGER readers_machines_recounted
AFTER UPDATE OF hostname, vendor, model, firmware ON readers
WHEN OLD.hostname IS NOT NEW.hostname OR OLD.vendor IS NOT NEW.vendor
  OR OLD.model IS NOT NEW.model OR OLD.firmware IS NOT NEW.firmware BEGIN
    UPDATE machine_readers SET readers = readers - 1
        WHERE hostname = OLD.hostname AND component = 'reader ' || OLD.vendor || ' ' || OLD.model
          AND version = OLD.firmware;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring, -1
        FROM machine_readers m JOIN workstations w ON w.hostname = m.hostname
        WHERE m.hostname = OLD.hostname
          AND m.component = 'reader ' || OLD.vendor || ' ' || OLD.model
          AND m.version = OLD.firmware AND m.readers = 0
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
    DELETE FROM machine_readers
        WHERE hostname = OLD.hostname AND component = 'reader ' || OLD.vendor || ' ' || OLD.model
          AND version = OLD.firmware AND readers = 0;
    DELETE FROM site_machine_counts WHERE machines = 0
        AND site_ods = (SELECT site_ods FROM workstations WHERE hostname = OLD.hostname);
    INSERT INTO machine_readers (hostname, component, version, readers)
        SELECT NEW.hostname, 'reader ' || NEW.vendor || ' ' || NEW.model, NEW.firmware, 1
        WHERE NEW.hostname IS NOT NULL AND NEW.firmware IS NOT NULL
        ON CONFLICT (hostname, component, version) DO UPDATE SET readers = readers + 1;
    INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
        SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring, 1
        FROM machine_readers m JOIN workstations w ON w.hostname = m.hostname
        WHERE m.hostname = NEW.hostname
          AND m.component = 'reader ' || NEW.vendor || ' ' || NEW.model
          AND m.version = NEW.firmware AND m.readers = 1
        ON CONFLICT (site_ods, source, component, version, update_ring)
        DO UPDATE SET machines = machines + excluded.machines;
END;
