-- The incidents an operator sees are those at their sites or those they recorded
-- (`reporter = … OR site IN (…)`): with the sites' index alone, a practice's reports (the staff
-- time lost) and its overview's open incidents read every incident of the estate.
CREATE INDEX incidents_reporter ON incidents (reporter, opened_at);
