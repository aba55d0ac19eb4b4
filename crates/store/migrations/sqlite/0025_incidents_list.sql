-- The incidents' list (issue 26): a page is read by keyset in the list's order — the sort
-- column, then the number — continuing from the last incident shown. Each sort the list offers
-- has an index in that order, so a page is a short range of it in either direction, never a
-- sort of every match; the minutes' index holds the expression the list sorts by (unfixed ones
-- as taking forever). A practice's list (a site filter, or an operator's own sites) and the
-- open incidents (the overview's link) newest first each read a range of their own index.
CREATE INDEX incidents_list_opened ON incidents (opened_at, id);
CREATE INDEX incidents_list_site ON incidents (site, id);
CREATE INDEX incidents_list_symptom ON incidents (symptom, id);
CREATE INDEX incidents_list_status ON incidents (status, id);
CREATE INDEX incidents_list_minutes ON incidents (COALESCE(minutes_to_fix, 1e18), id);
CREATE INDEX incidents_list_cause ON incidents (confirmed_cause, id);
CREATE INDEX incidents_list_site_opened ON incidents (site, opened_at, id);
CREATE INDEX incidents_list_status_opened ON incidents (status, opened_at, id);
