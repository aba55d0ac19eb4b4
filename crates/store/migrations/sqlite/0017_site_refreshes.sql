-- When each site's card and certificate data was last refreshed: by an import holding one of its
-- cards or their certificates (even one that changed nothing, which writes no audit record) or
-- by an agent's report from one of its workstations; a site an import creates starts from then.
-- The health checks raise a site whose data is older than [health] stale_data_days. Sites
-- already in the store start from the moment this migration runs: an unchanged re-import leaves
-- no trace, so nothing earlier tells their last refresh, and an older guess would raise them all.
CREATE TABLE site_refreshes (
    site_ods     TEXT PRIMARY KEY,
    refreshed_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO site_refreshes (site_ods, refreshed_at)
    SELECT site_ods, CAST(strftime('%s', 'now') AS INTEGER) FROM sites;
