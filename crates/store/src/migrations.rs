//! The schema's migrations: one list, with a SQL file per dialect for each.

/// A migration's version, its name, and its SQL in one dialect.
pub(crate) type Migration = (i64, &'static str, &'static str);

/// Both dialects' lists from one: a migration cannot be added to one and forgotten in the
/// other, since a file missing from either folder fails the build.
macro_rules! migrations {
    ($($version:literal $name:literal $file:literal,)*) => {
        pub(crate) const SQLITE: &[Migration] = &[$((
            $version,
            $name,
            include_str!(concat!("../migrations/sqlite/", $file, ".sql")),
        )),*];
        pub(crate) const POSTGRES: &[Migration] = &[$((
            $version,
            $name,
            include_str!(concat!("../migrations/postgres/", $file, ".sql")),
        )),*];
    };
}

migrations! {
    1 "estate" "0001_estate",
    2 "prevent" "0002_prevent",
    3 "incidents" "0003_incidents",
    4 "users" "0004_users",
    5 "tokens" "0005_tokens",
    6 "notify" "0006_notify",
    7 "agents" "0007_agents",
    8 "agent_events" "0008_agent_events",
    9 "agent_inventory" "0009_agent_inventory",
    10 "access_reviews" "0010_access_reviews",
    11 "agent_clock" "0011_agent_clock",
    12 "integrations" "0012_integrations",
    13 "lookup_indexes" "0013_lookup_indexes",
    14 "sha1_signing" "0014_sha1_signing",
    15 "workstation_applications" "0015_workstation_applications",
    16 "organisation_status" "0016_organisation_status",
    17 "site_refreshes" "0017_site_refreshes",
    18 "estate_lists" "0018_estate_lists",
    19 "people_surname" "0019_people_surname",
    20 "people_list_folded" "0020_people_list_folded",
    21 "incidents_reporter" "0021_incidents_reporter",
    22 "plan_snapshot" "0022_plan_snapshot",
    23 "plan_snapshot_generations" "0023_plan_snapshot_generations",
    24 "agents_list" "0024_agents_list",
    25 "incidents_list" "0025_incidents_list",
    26 "reviews_list" "0026_reviews_list",
    27 "site_machine_counts" "0027_site_machine_counts",
    28 "agent_signing_tests" "0028_agent_signing_tests",
}
