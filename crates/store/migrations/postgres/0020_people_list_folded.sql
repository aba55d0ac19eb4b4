-- The people list (issue 26) with fewer indexes for an import to build: a national import builds
-- every index of people over a million rows, and migrations 0018 and 0019 gave it six.
-- - Names sort by their lower case (A–Z folded, nothing else: lower() under the columns' "C"
--   collation, as SQLite's lower()), then the UUID: one index in (lower(name), uuid) order
--   serves the sort and the filter's match of the name's start, which byte order served with
--   two. Names differing only in capitals sit together ("de Souza" among the Ds, not after every
--   capital); an apostrophe, a space and letters beyond ASCII ("É" after "z") fall where they did.
-- - A practice's people by name: the same order within the site.
-- - The filter's match of a UUID's start reads the primary key: a UUID is digits, its lower
--   case itself.
-- - people_site_list (site_ods, uuid) finds a site's people as people_site (site_ods) did, in
--   key order besides, so people_site goes.
-- - The surname's index is of split_part's last field, the same word as migration 0019's
--   expression (the name after its last space, the whole name without one), cheaper to compute.
-- The queries are store::lists' (LISTED's folded and caseless columns, lists::surname).
DROP INDEX people_name_list;
DROP INDEX people_site_name_list;
DROP INDEX people_name_lower;
DROP INDEX people_uuid_lower;
DROP INDEX people_site;
DROP INDEX people_surname_lower;
CREATE INDEX people_name_list ON people (lower(name), uuid);
CREATE INDEX people_site_name_list ON people (site_ods, lower(name), uuid);
CREATE INDEX people_surname_lower ON people (lower(split_part(name, ' ', -1)));
