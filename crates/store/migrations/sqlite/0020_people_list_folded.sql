-- The people list (issue 26) with fewer indexes for an import to build: a national import builds
-- every index of people over a million rows, and migrations 0018 and 0019 gave it five.
-- - Names sort by their lower case (A–Z folded, nothing else, as lower() does on both stores),
--   then the UUID: one index in (lower(name), uuid) order serves the sort and the filter's
--   match of the name's start, which byte order served with two. Names differing only in
--   capitals sit together ("de Souza" among the Ds, not after every capital); an apostrophe, a
--   space and letters beyond ASCII ("É" after "z") fall where they did.
-- - A practice's people by name: the same order within the site.
-- - The filter's match of a UUID's start reads the primary key: a UUID is digits, its lower
--   case itself.
-- The queries are store::lists' (LISTED's folded and caseless columns).
DROP INDEX people_name_list;
DROP INDEX people_site_name_list;
DROP INDEX people_name_lower;
DROP INDEX people_uuid_lower;
CREATE INDEX people_name_list ON people (lower(name), uuid);
CREATE INDEX people_site_name_list ON people (site_ods, lower(name), uuid);
